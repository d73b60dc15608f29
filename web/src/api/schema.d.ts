// Generated from Ferry's OpenAPI document by openapi-typescript: `npm run api:types`. Do not edit.

export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {string} */
                            status: "ok";
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness: the database answers and every migration is applied
         * @description `demo` says whether the demo dataset can be read yet: on a first start Ferry is ready before the demo data is built (a few seconds); queries on the demo connection meanwhile wait for it.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            status: string;
                            migration: number;
                            demo?: "preparing" | "ready" | "failed";
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            status: string;
                            detail: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/setup": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Whether first-run setup is still open (404 once a user exists) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            required: boolean;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create the first tenant, its owner (an instance admin) and an owner API key */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        setupToken: string;
                        tenantName: string;
                        /** Format: email */
                        email: string;
                        /** @description At least 8 characters */
                        password: string;
                        name?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            tenantId: string;
                            userId: string;
                            apiKey: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign in; sets the httpOnly session cookie
         * @description Counted per client address whatever credentials the request carries. After 5 wrong passwords in a row for one e-mail address, the next attempt must wait 30 s, then 1, 2, 4, 8 and at most 15 minutes: attempts during the wait get 429 with Retry-After and are not checked. The right password resets the count; an address the account signed in from before keeps a count of its own.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** Format: email */
                        email: string;
                        password: string;
                        /**
                         * Format: uuid
                         * @description Which of your tenants to sign in to (default: the first)
                         */
                        tenantId?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            tenantId: string;
                            userId: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            expiresAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/switch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Switch the signed-in user to another of their tenants (a new session cookie; the old session ends) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /**
                         * Format: uuid
                         * @description One of your tenants (see `tenants` in /api/v1/me)
                         */
                        tenantId: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            tenantId: string;
                            userId: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            expiresAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign out: revokes the session and clears the cookie */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller: user, tenant, role and permissions */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            via: "session" | "api_key" | null;
                            user: {
                                id: string;
                                email: string;
                                name: string;
                                instanceAdmin: boolean;
                            } | null;
                            apiKey: {
                                id: string;
                                name: string;
                            } | null;
                            tenant: {
                                id: string;
                                name: string;
                                slug: string;
                            };
                            role: "owner" | "admin" | "editor" | "viewer";
                            permissions: string[];
                            instanceAdmin: boolean;
                            tenants: {
                                id: string;
                                name: string;
                                role: "owner" | "admin" | "editor" | "viewer";
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/api-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** API keys of your tenant */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                /** @description The first characters of the key, to recognise it */
                                prefix: string;
                                role: "owner" | "admin" | "editor" | "viewer";
                                instanceAdmin: boolean;
                                createdBy: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                expiresAt: string | null;
                                lastUsedAt: string | null;
                                revokedAt: string | null;
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create a key; the secret is in this response only */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        role: "owner" | "admin" | "editor" | "viewer";
                        /** Format: date-time */
                        expiresAt?: string;
                        /** @description Lets the key manage tenants (instance admins only) */
                        instanceAdmin?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            /** @description The first characters of the key, to recognise it */
                            prefix: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            instanceAdmin: boolean;
                            createdBy: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            expiresAt: string | null;
                            lastUsedAt: string | null;
                            revokedAt: string | null;
                            apiKey: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/api-keys/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One API key (without its secret) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            /** @description The first characters of the key, to recognise it */
                            prefix: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            instanceAdmin: boolean;
                            createdBy: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            expiresAt: string | null;
                            lastUsedAt: string | null;
                            revokedAt: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Revoke a key (it stops working at once) */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/members": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Users of your tenant and their roles */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                /** @description The user id */
                                id: string;
                                email: string;
                                name: string;
                                role: "owner" | "admin" | "editor" | "viewer";
                                hasPassword: boolean;
                                /** Format: date-time */
                                joinedAt: string;
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /** Invite someone to your tenant with a role (202: they join when they accept) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            /** @description Invites the address; the answer is the same whether or not it has an account. The invitee accepts with POST /api/v1/invitations/accept */
            requestBody: {
                content: {
                    "application/json": {
                        /** Format: email */
                        email: string;
                        role: "owner" | "admin" | "editor" | "viewer";
                        /** @description A name suggested for a new account */
                        name?: string;
                        /**
                         * @deprecated
                         * @description No longer accepted: the invitee chooses their own password when accepting
                         */
                        password?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            /** Format: email */
                            email: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            /** @description The name suggested for a new account */
                            name: string;
                            status: "pending" | "expired" | "accepted" | "revoked";
                            invitedBy: {
                                userId: string | null;
                                apiKeyId: string | null;
                                label: string;
                            };
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            expiresAt: string;
                            acceptedAt: string | null;
                            revokedAt: string | null;
                            revokedReason: "revoked" | "superseded" | "too_many_attempts" | null;
                            emailDelivery: {
                                status: "pending" | "sent" | "failed" | "not_configured";
                                error: string | null;
                            };
                            /** @description The link that accepts the invitation; shown in this response only */
                            acceptUrl: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/members/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One member */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description The user id */
                            id: string;
                            email: string;
                            name: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            hasPassword: boolean;
                            /** Format: date-time */
                            joinedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Remove a member (the last owner cannot be removed) */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /** Change a member's role (the last owner cannot be demoted) */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        role: "owner" | "admin" | "editor" | "viewer";
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description The user id */
                            id: string;
                            email: string;
                            name: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            hasPassword: boolean;
                            /** Format: date-time */
                            joinedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/invitations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Your tenant's invitations, newest first */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                    status?: "pending" | "expired" | "accepted" | "revoked";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                /** Format: email */
                                email: string;
                                role: "owner" | "admin" | "editor" | "viewer";
                                /** @description The name suggested for a new account */
                                name: string;
                                status: "pending" | "expired" | "accepted" | "revoked";
                                invitedBy: {
                                    userId: string | null;
                                    apiKeyId: string | null;
                                    label: string;
                                };
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                expiresAt: string;
                                acceptedAt: string | null;
                                revokedAt: string | null;
                                revokedReason: "revoked" | "superseded" | "too_many_attempts" | null;
                                emailDelivery: {
                                    status: "pending" | "sent" | "failed" | "not_configured";
                                    error: string | null;
                                };
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/invitations/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One invitation */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            /** Format: email */
                            email: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            /** @description The name suggested for a new account */
                            name: string;
                            status: "pending" | "expired" | "accepted" | "revoked";
                            invitedBy: {
                                userId: string | null;
                                apiKeyId: string | null;
                                label: string;
                            };
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            expiresAt: string;
                            acceptedAt: string | null;
                            revokedAt: string | null;
                            revokedReason: "revoked" | "superseded" | "too_many_attempts" | null;
                            emailDelivery: {
                                status: "pending" | "sent" | "failed" | "not_configured";
                                error: string | null;
                            };
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Withdraw an invitation; its link stops working */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/invitations/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** What an invitation is for (tenant, role, address), for the page its link opens */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description The token from the invitation link */
                        token: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            email: string;
                            role: "owner" | "admin" | "editor" | "viewer";
                            status: "pending" | "expired" | "accepted" | "revoked";
                            tenant: {
                                name: string;
                            };
                            invitedBy: string;
                            /** Format: date-time */
                            expiresAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/invitations/accept": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Accept an invitation: signed in as the invited account, with its password, or with the password for a new account */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description The token from the invitation link */
                        token: string;
                        /** @description At least 8 characters */
                        password?: string;
                        /** @description Your name, for a new account */
                        name?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            tenant: {
                                id: string;
                                name: string;
                            };
                            member: {
                                id: string;
                                email: string;
                                name: string;
                                role: "owner" | "admin" | "editor" | "viewer";
                                hasPassword: boolean;
                                /** Format: date-time */
                                joinedAt: string;
                            };
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Audit log of your tenant, newest first */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                    /** @description Exact action, or a prefix ending in * (e.g. member.*) */
                    action?: string;
                    /** @description The user or API key that acted (actor.id) */
                    actorId?: string;
                    /** @description Who acted: a signed-in user, an API key, the system (scheduler, CLI) or no one signed in */
                    actorType?: "user" | "api_key" | "system" | "anonymous";
                    targetType?: string;
                    targetId?: string;
                    /** @description Entries at or after this time */
                    from?: string;
                    /** @description Entries before this time */
                    to?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                action: string;
                                actor: {
                                    /** @description Who acted: a signed-in user, an API key, the system (scheduler, CLI) or no one signed in */
                                    type: "user" | "api_key" | "system" | "anonymous";
                                    id: string | null;
                                    label: string | null;
                                };
                                target: {
                                    type: string;
                                    id: string | null;
                                } | null;
                                ip: string | null;
                                userAgent: string | null;
                                details: {
                                    [key: string]: unknown;
                                };
                                /** Format: date-time */
                                createdAt: string;
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/audit/facets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The actions, target types and actors in your tenant's audit log, for filters */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            actions: string[];
                            targetTypes: string[];
                            /** @description The 200 actors that acted last, newest first */
                            actors: {
                                /** @description Who acted: a signed-in user, an API key, the system (scheduler, CLI) or no one signed in */
                                type: "user" | "api_key" | "system" | "anonymous";
                                id: string | null;
                                label: string | null;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/tenants": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** All tenants (instance admins) */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                slug: string;
                                memberCount?: number;
                                /** Format: date-time */
                                createdAt: string;
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create a tenant with its owner; returns the owner's API key (shown once) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            /** @description An existing account becomes owner as it is; a new one needs ownerPassword */
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Tenant name */
                        name: string;
                        /** Format: email */
                        ownerEmail: string;
                        /** @description At least 8 characters */
                        ownerPassword?: string;
                        ownerName?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            tenantId: string;
                            userId: string;
                            apiKey: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/tenants/{id}/limits": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A tenant's export limits */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            maxExportRows: number | null;
                            maxExportBytes: number | null;
                            maxRunSeconds: number | null;
                            effective: {
                                maxExportRows: number;
                                maxExportBytes: number;
                                maxRunSeconds: number;
                            };
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        /** Set a tenant's export limits (rows, bytes, run time); null uses the instance default */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Rows per export; null: the instance default */
                        maxExportRows: number | null;
                        /** @description Bytes per export file; null: the instance default */
                        maxExportBytes: number | null;
                        /** @description Seconds per run; null: the instance default */
                        maxRunSeconds: number | null;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            maxExportRows: number | null;
                            maxExportBytes: number | null;
                            maxRunSeconds: number | null;
                            effective: {
                                maxExportRows: number;
                                maxExportBytes: number;
                                maxRunSeconds: number;
                            };
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/connections": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Data sources of your tenant */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                type: "demo" | "postgres" | "mysql" | "sqlite";
                                /** @description As given, without secrets: { url, ssl, sslmode, tls? } or { host, port, database, user, ssl, sslmode, options?, tls? }; SQLite { path }; demo {}. tls shows ca, cert, servername and hasKey, hasPassphrase */
                                config: {
                                    /** @description The URL form, without its password */
                                    url?: string;
                                    host?: string;
                                    port?: number;
                                    database?: string;
                                    user?: string;
                                    ssl?: boolean;
                                    /** @description As libpq: disable; prefer and require encrypt without checking the server (but check its chain when tls.ca is given); verify-ca checks the chain (needs tls.ca); verify-full also the host name. Node's drivers cannot fall back to plain text, so prefer behaves as require. */
                                    sslmode?: "disable" | "prefer" | "require" | "verify-ca" | "verify-full";
                                    options?: {
                                        [key: string]: string | number | boolean;
                                    };
                                    tls?: {
                                        ca?: string;
                                        cert?: string;
                                        servername?: string;
                                        hasKey: boolean;
                                        hasPassphrase: boolean;
                                    };
                                    /** @description SQLite: the file, relative to FERRY_SQLITE_DIR */
                                    path?: string;
                                };
                                hasPassword: boolean;
                                /** @description Confirms that the connection may use an administrator account (PostgreSQL superuser; MySQL SUPER or ALL PRIVILEGES ON *.*); without it such a connection is refused (422, naming allowPrivilegedUser) */
                                allowPrivilegedUser: boolean;
                                /** @description What the database user may do beyond reading, as the server answered (superuser, server files or programs, write or create privileges); empty when nothing or not yet checked */
                                privilegeWarnings: string[];
                                /** @description When the privileges were checked for the current settings; null: not yet (on first use) */
                                privilegesCheckedAt: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                updatedAt: string;
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /** Add a PostgreSQL, MySQL/MariaDB or SQLite connection */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        type: "postgres" | "mysql" | "sqlite";
                        config: {
                            /** @description postgres://user:pass@host:5432/db?sslmode=require or mysql://…; parsed, the password stored encrypted. Query options are an allow-list — PostgreSQL: sslmode, ssl, application_name, connect_timeout (s), sslpassword; MySQL/MariaDB: ssl-mode (sslMode), ssl, charset (utf8mb4 collations), connectTimeout (ms). A unix socket (host=/dir, socketPath=) only with FERRY_ALLOW_SOCKETS */
                            url?: string;
                            /** @description A host name or IP address (a socket path only with FERRY_ALLOW_SOCKETS) */
                            host?: string;
                            port?: number;
                            database?: string;
                            user?: string;
                            /** @description Write-only; null removes it */
                            password?: string | null;
                            /** @description true: sslmode require; false: disable */
                            ssl?: boolean;
                            /** @description As libpq: disable; prefer and require encrypt without checking the server (but check its chain when tls.ca is given); verify-ca checks the chain (needs tls.ca); verify-full also the host name. Node's drivers cannot fall back to plain text, so prefer behaves as require. */
                            sslmode?: "disable" | "prefer" | "require" | "verify-ca" | "verify-full";
                            tls?: {
                                /** @description Certificate authorities to trust as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                ca?: string | null;
                                /** @description Client certificate as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                cert?: string | null;
                                /** @description Client private key (write-only, stored encrypted) as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                key?: string | null;
                                /** @description Passphrase of an encrypted key (write-only); null removes it */
                                passphrase?: string | null;
                                /** @description PostgreSQL, verify-full: the name the certificate must carry when the host is an IP address */
                                servername?: string | null;
                            } | null;
                            /** @description Field form: driver options from the same allow-list as a URL query (PostgreSQL: sslmode, ssl, application_name, connect_timeout; MySQL/MariaDB: ssl-mode, sslMode, ssl, charset, connectTimeout); any other is refused by name */
                            options?: {
                                [key: string]: string | number | boolean;
                            };
                            /** @description SQLite: a file inside FERRY_SQLITE_DIR */
                            path?: string;
                        };
                        /** @description Confirms that the connection may use an administrator account (PostgreSQL superuser; MySQL SUPER or ALL PRIVILEGES ON *.*); without it such a connection is refused (422, naming allowPrivilegedUser) */
                        allowPrivilegedUser?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            type: "demo" | "postgres" | "mysql" | "sqlite";
                            /** @description As given, without secrets: { url, ssl, sslmode, tls? } or { host, port, database, user, ssl, sslmode, options?, tls? }; SQLite { path }; demo {}. tls shows ca, cert, servername and hasKey, hasPassphrase */
                            config: {
                                /** @description The URL form, without its password */
                                url?: string;
                                host?: string;
                                port?: number;
                                database?: string;
                                user?: string;
                                ssl?: boolean;
                                /** @description As libpq: disable; prefer and require encrypt without checking the server (but check its chain when tls.ca is given); verify-ca checks the chain (needs tls.ca); verify-full also the host name. Node's drivers cannot fall back to plain text, so prefer behaves as require. */
                                sslmode?: "disable" | "prefer" | "require" | "verify-ca" | "verify-full";
                                options?: {
                                    [key: string]: string | number | boolean;
                                };
                                tls?: {
                                    ca?: string;
                                    cert?: string;
                                    servername?: string;
                                    hasKey: boolean;
                                    hasPassphrase: boolean;
                                };
                                /** @description SQLite: the file, relative to FERRY_SQLITE_DIR */
                                path?: string;
                            };
                            hasPassword: boolean;
                            /** @description Confirms that the connection may use an administrator account (PostgreSQL superuser; MySQL SUPER or ALL PRIVILEGES ON *.*); without it such a connection is refused (422, naming allowPrivilegedUser) */
                            allowPrivilegedUser: boolean;
                            /** @description What the database user may do beyond reading, as the server answered (superuser, server files or programs, write or create privileges); empty when nothing or not yet checked */
                            privilegeWarnings: string[];
                            /** @description When the privileges were checked for the current settings; null: not yet (on first use) */
                            privilegesCheckedAt: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/connections/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Test settings before saving them: server version and latency, or the exact error */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        type: "postgres" | "mysql" | "sqlite";
                        config: {
                            /** @description postgres://user:pass@host:5432/db?sslmode=require or mysql://…; parsed, the password stored encrypted. Query options are an allow-list — PostgreSQL: sslmode, ssl, application_name, connect_timeout (s), sslpassword; MySQL/MariaDB: ssl-mode (sslMode), ssl, charset (utf8mb4 collations), connectTimeout (ms). A unix socket (host=/dir, socketPath=) only with FERRY_ALLOW_SOCKETS */
                            url?: string;
                            /** @description A host name or IP address (a socket path only with FERRY_ALLOW_SOCKETS) */
                            host?: string;
                            port?: number;
                            database?: string;
                            user?: string;
                            /** @description Write-only; null removes it */
                            password?: string | null;
                            /** @description true: sslmode require; false: disable */
                            ssl?: boolean;
                            /** @description As libpq: disable; prefer and require encrypt without checking the server (but check its chain when tls.ca is given); verify-ca checks the chain (needs tls.ca); verify-full also the host name. Node's drivers cannot fall back to plain text, so prefer behaves as require. */
                            sslmode?: "disable" | "prefer" | "require" | "verify-ca" | "verify-full";
                            tls?: {
                                /** @description Certificate authorities to trust as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                ca?: string | null;
                                /** @description Client certificate as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                cert?: string | null;
                                /** @description Client private key (write-only, stored encrypted) as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                key?: string | null;
                                /** @description Passphrase of an encrypted key (write-only); null removes it */
                                passphrase?: string | null;
                                /** @description PostgreSQL, verify-full: the name the certificate must carry when the host is an IP address */
                                servername?: string | null;
                            } | null;
                            /** @description Field form: driver options from the same allow-list as a URL query (PostgreSQL: sslmode, ssl, application_name, connect_timeout; MySQL/MariaDB: ssl-mode, sslMode, ssl, charset, connectTimeout); any other is refused by name */
                            options?: {
                                [key: string]: string | number | boolean;
                            };
                            /** @description SQLite: a file inside FERRY_SQLITE_DIR */
                            path?: string;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            ok: true;
                            version: string;
                            latencyMs: number;
                            /** @description What the database user may do beyond reading, as the server answered (superuser, server files or programs, write or create privileges); empty when nothing or not yet checked */
                            privilegeWarnings: string[];
                            /** @description An administrator account: saving it needs allowPrivilegedUser */
                            isPrivilegedUser: boolean;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/connections/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One connection (never its password) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            type: "demo" | "postgres" | "mysql" | "sqlite";
                            /** @description As given, without secrets: { url, ssl, sslmode, tls? } or { host, port, database, user, ssl, sslmode, options?, tls? }; SQLite { path }; demo {}. tls shows ca, cert, servername and hasKey, hasPassphrase */
                            config: {
                                /** @description The URL form, without its password */
                                url?: string;
                                host?: string;
                                port?: number;
                                database?: string;
                                user?: string;
                                ssl?: boolean;
                                /** @description As libpq: disable; prefer and require encrypt without checking the server (but check its chain when tls.ca is given); verify-ca checks the chain (needs tls.ca); verify-full also the host name. Node's drivers cannot fall back to plain text, so prefer behaves as require. */
                                sslmode?: "disable" | "prefer" | "require" | "verify-ca" | "verify-full";
                                options?: {
                                    [key: string]: string | number | boolean;
                                };
                                tls?: {
                                    ca?: string;
                                    cert?: string;
                                    servername?: string;
                                    hasKey: boolean;
                                    hasPassphrase: boolean;
                                };
                                /** @description SQLite: the file, relative to FERRY_SQLITE_DIR */
                                path?: string;
                            };
                            hasPassword: boolean;
                            /** @description Confirms that the connection may use an administrator account (PostgreSQL superuser; MySQL SUPER or ALL PRIVILEGES ON *.*); without it such a connection is refused (422, naming allowPrivilegedUser) */
                            allowPrivilegedUser: boolean;
                            /** @description What the database user may do beyond reading, as the server answered (superuser, server files or programs, write or create privileges); empty when nothing or not yet checked */
                            privilegeWarnings: string[];
                            /** @description When the privileges were checked for the current settings; null: not yet (on first use) */
                            privilegesCheckedAt: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete a connection no report uses */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /** Rename or change settings (omit password to keep it) */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name?: string;
                        config?: {
                            /** @description postgres://user:pass@host:5432/db?sslmode=require or mysql://…; parsed, the password stored encrypted. Query options are an allow-list — PostgreSQL: sslmode, ssl, application_name, connect_timeout (s), sslpassword; MySQL/MariaDB: ssl-mode (sslMode), ssl, charset (utf8mb4 collations), connectTimeout (ms). A unix socket (host=/dir, socketPath=) only with FERRY_ALLOW_SOCKETS */
                            url?: string;
                            /** @description A host name or IP address (a socket path only with FERRY_ALLOW_SOCKETS) */
                            host?: string;
                            port?: number;
                            database?: string;
                            user?: string;
                            /** @description Write-only; null removes it */
                            password?: string | null;
                            /** @description true: sslmode require; false: disable */
                            ssl?: boolean;
                            /** @description As libpq: disable; prefer and require encrypt without checking the server (but check its chain when tls.ca is given); verify-ca checks the chain (needs tls.ca); verify-full also the host name. Node's drivers cannot fall back to plain text, so prefer behaves as require. */
                            sslmode?: "disable" | "prefer" | "require" | "verify-ca" | "verify-full";
                            tls?: {
                                /** @description Certificate authorities to trust as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                ca?: string | null;
                                /** @description Client certificate as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                cert?: string | null;
                                /** @description Client private key (write-only, stored encrypted) as PEM text (-----BEGIN …-----), never a file path; null removes it */
                                key?: string | null;
                                /** @description Passphrase of an encrypted key (write-only); null removes it */
                                passphrase?: string | null;
                                /** @description PostgreSQL, verify-full: the name the certificate must carry when the host is an IP address */
                                servername?: string | null;
                            } | null;
                            /** @description Field form: driver options from the same allow-list as a URL query (PostgreSQL: sslmode, ssl, application_name, connect_timeout; MySQL/MariaDB: ssl-mode, sslMode, ssl, charset, connectTimeout); any other is refused by name */
                            options?: {
                                [key: string]: string | number | boolean;
                            };
                            /** @description SQLite: a file inside FERRY_SQLITE_DIR */
                            path?: string;
                        };
                        /** @description Confirms that the connection may use an administrator account (PostgreSQL superuser; MySQL SUPER or ALL PRIVILEGES ON *.*); without it such a connection is refused (422, naming allowPrivilegedUser) */
                        allowPrivilegedUser?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            type: "demo" | "postgres" | "mysql" | "sqlite";
                            /** @description As given, without secrets: { url, ssl, sslmode, tls? } or { host, port, database, user, ssl, sslmode, options?, tls? }; SQLite { path }; demo {}. tls shows ca, cert, servername and hasKey, hasPassphrase */
                            config: {
                                /** @description The URL form, without its password */
                                url?: string;
                                host?: string;
                                port?: number;
                                database?: string;
                                user?: string;
                                ssl?: boolean;
                                /** @description As libpq: disable; prefer and require encrypt without checking the server (but check its chain when tls.ca is given); verify-ca checks the chain (needs tls.ca); verify-full also the host name. Node's drivers cannot fall back to plain text, so prefer behaves as require. */
                                sslmode?: "disable" | "prefer" | "require" | "verify-ca" | "verify-full";
                                options?: {
                                    [key: string]: string | number | boolean;
                                };
                                tls?: {
                                    ca?: string;
                                    cert?: string;
                                    servername?: string;
                                    hasKey: boolean;
                                    hasPassphrase: boolean;
                                };
                                /** @description SQLite: the file, relative to FERRY_SQLITE_DIR */
                                path?: string;
                            };
                            hasPassword: boolean;
                            /** @description Confirms that the connection may use an administrator account (PostgreSQL superuser; MySQL SUPER or ALL PRIVILEGES ON *.*); without it such a connection is refused (422, naming allowPrivilegedUser) */
                            allowPrivilegedUser: boolean;
                            /** @description What the database user may do beyond reading, as the server answered (superuser, server files or programs, write or create privileges); empty when nothing or not yet checked */
                            privilegeWarnings: string[];
                            /** @description When the privileges were checked for the current settings; null: not yet (on first use) */
                            privilegesCheckedAt: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/connections/{id}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Connect and report server version and latency, or the exact error */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {boolean} */
                            ok: true;
                            version: string;
                            latencyMs: number;
                            /** @description What the database user may do beyond reading, as the server answered (superuser, server files or programs, write or create privileges); empty when nothing or not yet checked */
                            privilegeWarnings: string[];
                            /** @description An administrator account: saving it needs allowPrivilegedUser */
                            isPrivilegedUser: boolean;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/connections/{id}/schema": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Tables and views with their columns and types (cached; ?refresh=true reads again) */
        get: {
            parameters: {
                query?: {
                    refresh?: boolean;
                };
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            tables: {
                                schema: string | null;
                                name: string;
                                kind: string;
                                columns: {
                                    name: string;
                                    type: string;
                                    dbType: string;
                                    nullable: boolean;
                                }[];
                            }[];
                            /** Format: date-time */
                            cachedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Reports of your tenant */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                    /** @description Only reports whose name or description contains this */
                    q?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                description: string;
                                connectionId: string;
                                sql?: string;
                                spec?: unknown;
                                parameters: {
                                    name: string;
                                    /** @enum {string} */
                                    type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                                    /** @enum {string} */
                                    items?: "string" | "number" | "integer" | "date";
                                    default?: unknown;
                                    required?: boolean;
                                    label?: string;
                                    description?: string;
                                }[];
                                templateKey: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                updatedAt: string;
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create a report: SQL with {{typed}} parameters, or a builder spec */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        description?: string;
                        /** Format: uuid */
                        connectionId: string;
                        sql?: string | null;
                        spec?: {
                            table: string;
                            columns: {
                                column: string;
                                label?: string;
                                aggregate?: "count" | "count_distinct" | "sum" | "avg" | "min" | "max";
                            }[];
                            filters?: {
                                column: string;
                                op: "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "between" | "in" | "contains" | "is_null" | "is_not_null";
                                value?: string | number | boolean | {
                                    param: string;
                                };
                                values?: (string | number | boolean | {
                                    param: string;
                                })[];
                            }[];
                            groupBy?: string[];
                            sort?: {
                                column: string;
                                direction?: "asc" | "desc";
                            }[];
                            limit?: number;
                        } | null;
                        parameters?: {
                            name: string;
                            type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                            items?: "string" | "number" | "integer" | "date";
                            /** @description A value of the type; for date/datetime also today, yesterday, start_of_week, start_of_month, start_of_last_month, end_of_last_month, start_of_quarter, start_of_year, last_successful_run, run_time */
                            default?: unknown;
                            /** @description Default true; a parameter with a default is never missing */
                            required?: boolean;
                            label?: string;
                            description?: string;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            description: string;
                            connectionId: string;
                            sql?: string;
                            spec?: unknown;
                            parameters: {
                                name: string;
                                /** @enum {string} */
                                type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                                /** @enum {string} */
                                items?: "string" | "number" | "integer" | "date";
                                default?: unknown;
                                required?: boolean;
                                label?: string;
                                description?: string;
                            }[];
                            templateKey: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports/parameters/resolve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The values parameters resolve to (relative dates in a zone at a moment), before running anything
         * @description For forms: shows e.g. start_of_last_month as the date a run at `at` in `timezone` would use. Values that are missing or wrong are listed in errors, not refused.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description The declarations */
                        parameters: {
                            name: string;
                            type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                            items?: "string" | "number" | "integer" | "date";
                            /** @description A value of the type; for date/datetime also today, yesterday, start_of_week, start_of_month, start_of_last_month, end_of_last_month, start_of_quarter, start_of_year, last_successful_run, run_time */
                            default?: unknown;
                            /** @description Default true; a parameter with a default is never missing */
                            required?: boolean;
                            label?: string;
                            description?: string;
                        }[];
                        /** @description Values by name; a missing one takes its default */
                        values?: {
                            [key: string]: unknown;
                        };
                        /** @description IANA zone for relative dates (default UTC) */
                        timezone?: string;
                        /**
                         * Format: date-time
                         * @description The moment to resolve relative dates at, e.g. a schedule's next run (default now)
                         */
                        at?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Each parameter as a run would bind it (null: missing or invalid) */
                            values: {
                                [key: string]: unknown;
                            };
                            /** @description What is wrong with a value, per parameter (path parameters.<name>) */
                            errors: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Preview an unsaved report: first rows, column types, elapsed time */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        report: {
                            /** Format: uuid */
                            connectionId: string;
                            sql?: string | null;
                            spec?: {
                                table: string;
                                columns: {
                                    column: string;
                                    label?: string;
                                    aggregate?: "count" | "count_distinct" | "sum" | "avg" | "min" | "max";
                                }[];
                                filters?: {
                                    column: string;
                                    op: "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "between" | "in" | "contains" | "is_null" | "is_not_null";
                                    value?: string | number | boolean | {
                                        param: string;
                                    };
                                    values?: (string | number | boolean | {
                                        param: string;
                                    })[];
                                }[];
                                groupBy?: string[];
                                sort?: {
                                    column: string;
                                    direction?: "asc" | "desc";
                                }[];
                                limit?: number;
                            } | null;
                            parameters?: {
                                name: string;
                                type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                                items?: "string" | "number" | "integer" | "date";
                                /** @description A value of the type; for date/datetime also today, yesterday, start_of_week, start_of_month, start_of_last_month, end_of_last_month, start_of_quarter, start_of_year, last_successful_run, run_time */
                                default?: unknown;
                                /** @description Default true; a parameter with a default is never missing */
                                required?: boolean;
                                label?: string;
                                description?: string;
                            }[];
                        };
                        /** @description Parameter values by name */
                        parameters?: {
                            [key: string]: unknown;
                        };
                        /** @default 100 */
                        limit?: number;
                        /** @description IANA zone for relative dates (default UTC) */
                        timezone?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            columns: {
                                name: string;
                                type: string;
                                dbType: string;
                            }[];
                            rows: unknown[][];
                            rowCount: number;
                            /** @description More rows than shown */
                            truncated: boolean;
                            /** @description What ended the preview early: the row limit, or the byte cap (4 MB of values, 64 MB read from the source) */
                            truncatedBy: "rows" | "bytes" | null;
                            /** @description Values longer than 64 KB (or than what was left of the byte cap): the cell holds their first bytes, as text (JSON cut as its text) or hex */
                            cutValues: {
                                /** @description Index in rows */
                                row: number;
                                /** @description Index in columns */
                                column: number;
                                /** @description The value's full size in bytes */
                                bytes: number;
                            }[];
                            elapsedMs: number;
                            /** @description The parameter values it ran with: given or default, relative dates resolved */
                            parameters: {
                                [key: string]: unknown;
                            };
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One report */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            description: string;
                            connectionId: string;
                            sql?: string;
                            spec?: unknown;
                            parameters: {
                                name: string;
                                /** @enum {string} */
                                type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                                /** @enum {string} */
                                items?: "string" | "number" | "integer" | "date";
                                default?: unknown;
                                required?: boolean;
                                label?: string;
                                description?: string;
                            }[];
                            templateKey: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete a report (409 while schedules use it) */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /** Change a report */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name?: string;
                        description?: string;
                        /** Format: uuid */
                        connectionId?: string;
                        sql?: string | null;
                        spec?: {
                            table: string;
                            columns: {
                                column: string;
                                label?: string;
                                aggregate?: "count" | "count_distinct" | "sum" | "avg" | "min" | "max";
                            }[];
                            filters?: {
                                column: string;
                                op: "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "between" | "in" | "contains" | "is_null" | "is_not_null";
                                value?: string | number | boolean | {
                                    param: string;
                                };
                                values?: (string | number | boolean | {
                                    param: string;
                                })[];
                            }[];
                            groupBy?: string[];
                            sort?: {
                                column: string;
                                direction?: "asc" | "desc";
                            }[];
                            limit?: number;
                        } | null;
                        parameters?: {
                            name: string;
                            type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                            items?: "string" | "number" | "integer" | "date";
                            /** @description A value of the type; for date/datetime also today, yesterday, start_of_week, start_of_month, start_of_last_month, end_of_last_month, start_of_quarter, start_of_year, last_successful_run, run_time */
                            default?: unknown;
                            /** @description Default true; a parameter with a default is never missing */
                            required?: boolean;
                            label?: string;
                            description?: string;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            description: string;
                            connectionId: string;
                            sql?: string;
                            spec?: unknown;
                            parameters: {
                                name: string;
                                /** @enum {string} */
                                type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                                /** @enum {string} */
                                items?: "string" | "number" | "integer" | "date";
                                default?: unknown;
                                required?: boolean;
                                label?: string;
                                description?: string;
                            }[];
                            templateKey: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/reports/{id}/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** First rows (default 100) with column names and types; no file */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Parameter values by name */
                        parameters?: {
                            [key: string]: unknown;
                        };
                        /** @default 100 */
                        limit?: number;
                        /** @description IANA zone for relative dates (default UTC) */
                        timezone?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            columns: {
                                name: string;
                                type: string;
                                dbType: string;
                            }[];
                            rows: unknown[][];
                            rowCount: number;
                            /** @description More rows than shown */
                            truncated: boolean;
                            /** @description What ended the preview early: the row limit, or the byte cap (4 MB of values, 64 MB read from the source) */
                            truncatedBy: "rows" | "bytes" | null;
                            /** @description Values longer than 64 KB (or than what was left of the byte cap): the cell holds their first bytes, as text (JSON cut as its text) or hex */
                            cutValues: {
                                /** @description Index in rows */
                                row: number;
                                /** @description Index in columns */
                                column: number;
                                /** @description The value's full size in bytes */
                                bytes: number;
                            }[];
                            elapsedMs: number;
                            /** @description The parameter values it ran with: given or default, relative dates resolved */
                            parameters: {
                                [key: string]: unknown;
                            };
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Built-in report templates on the demo data */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                key: string;
                                name: string;
                                description: string;
                                category: string;
                                sql: string;
                                parameters: {
                                    name: string;
                                    /** @enum {string} */
                                    type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                                    /** @enum {string} */
                                    items?: "string" | "number" | "integer" | "date";
                                    default?: unknown;
                                    required?: boolean;
                                    label?: string;
                                    description?: string;
                                }[];
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/templates/{key}/use": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Create a report from a template on your tenant's demo connection */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    key: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            description: string;
                            connectionId: string;
                            sql?: string;
                            spec?: unknown;
                            parameters: {
                                name: string;
                                /** @enum {string} */
                                type: "string" | "number" | "integer" | "boolean" | "date" | "datetime" | "list";
                                /** @enum {string} */
                                items?: "string" | "number" | "integer" | "date";
                                default?: unknown;
                                required?: boolean;
                                label?: string;
                                description?: string;
                            }[];
                            templateKey: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Runs, failures, rows, bytes and p50/p95 durations: in total and per report, format and day
         * @description Runs created in [from, to). byDay lists every calendar day of the period in `zone`, with runs per status.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Start (default: 30 days before to) */
                    from?: string;
                    /** @description End, exclusive (default: now) */
                    to?: string;
                    /** @description IANA time zone whose calendar days byDay counts in (default UTC) */
                    zone?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: date-time */
                            from: string;
                            /** Format: date-time */
                            to: string;
                            zone: string;
                            total: {
                                /** @description The report name, format, day (YYYY-MM-DD in `zone`) or 'all' */
                                key: string;
                                runs: number;
                                succeeded: number;
                                failed: number;
                                /** @description Runs per status */
                                statuses: {
                                    queued: number;
                                    running: number;
                                    succeeded: number;
                                    failed: number;
                                    cancelled: number;
                                    skipped_missed: number;
                                    skipped_overlap: number;
                                    skipped_condition: number;
                                };
                                /** @description failed / runs (0 without runs) */
                                failureRate: number;
                                rows: number;
                                bytes: number;
                                durationP50Ms: number | null;
                                durationP95Ms: number | null;
                            };
                            byReport: {
                                /** @description The report name, format, day (YYYY-MM-DD in `zone`) or 'all' */
                                key: string;
                                runs: number;
                                succeeded: number;
                                failed: number;
                                /** @description Runs per status */
                                statuses: {
                                    queued: number;
                                    running: number;
                                    succeeded: number;
                                    failed: number;
                                    cancelled: number;
                                    skipped_missed: number;
                                    skipped_overlap: number;
                                    skipped_condition: number;
                                };
                                /** @description failed / runs (0 without runs) */
                                failureRate: number;
                                rows: number;
                                bytes: number;
                                durationP50Ms: number | null;
                                durationP95Ms: number | null;
                                /** @description The report of the newest run under this name; null when it was deleted */
                                reportId: string | null;
                            }[];
                            byFormat: {
                                /** @description The report name, format, day (YYYY-MM-DD in `zone`) or 'all' */
                                key: string;
                                runs: number;
                                succeeded: number;
                                failed: number;
                                /** @description Runs per status */
                                statuses: {
                                    queued: number;
                                    running: number;
                                    succeeded: number;
                                    failed: number;
                                    cancelled: number;
                                    skipped_missed: number;
                                    skipped_overlap: number;
                                    skipped_condition: number;
                                };
                                /** @description failed / runs (0 without runs) */
                                failureRate: number;
                                rows: number;
                                bytes: number;
                                durationP50Ms: number | null;
                                durationP95Ms: number | null;
                            }[];
                            /** @description Every day of the period, days without runs as zeros (periods over 366 days: days with runs only) */
                            byDay: {
                                /** @description The report name, format, day (YYYY-MM-DD in `zone`) or 'all' */
                                key: string;
                                runs: number;
                                succeeded: number;
                                failed: number;
                                /** @description Runs per status */
                                statuses: {
                                    queued: number;
                                    running: number;
                                    succeeded: number;
                                    failed: number;
                                    cancelled: number;
                                    skipped_missed: number;
                                    skipped_overlap: number;
                                    skipped_condition: number;
                                };
                                /** @description failed / runs (0 without runs) */
                                failureRate: number;
                                rows: number;
                                bytes: number;
                                durationP50Ms: number | null;
                                durationP95Ms: number | null;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/exports": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Export a report now: 202 with the queued run */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** Format: uuid */
                        reportId: string;
                        parameters?: {
                            [key: string]: unknown;
                        };
                        format: "csv" | "tsv" | "xlsx" | "json" | "ndjson" | "xml" | "pdf" | "datev" | "bmd" | "saft";
                        /** @description The options of the chosen format (each format has its schema) plus compression and fileName, which every format takes. An option the format does not take is refused with a 400 naming it. */
                        formatOptions?: {
                            /**
                             * @description The character between values, e.g. , or ; (German Excel)
                             * @default ,
                             */
                            delimiter?: string;
                            /**
                             * @description The character around values that contain the delimiter, a quote or a line break
                             * @default "
                             */
                            quote?: string;
                            /**
                             * @description Write the column names as the first line
                             * @default true
                             */
                            header?: boolean;
                            /**
                             * @description Start with a UTF-8 byte order mark (helps Excel on Windows read accents)
                             * @default false
                             */
                            bom?: boolean;
                            /**
                             * @description Line breaks: crlf (Windows, RFC 4180) or lf (Unix)
                             * @default crlf
                             * @enum {string}
                             */
                            lineEnding?: "crlf" | "lf";
                            /**
                             * @description What an empty (NULL) value is written as
                             * @default
                             */
                            nullText?: string;
                            /**
                             * @description Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula
                             * @default true
                             */
                            formulaProtection?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Write the column names as the first line
                             * @default true
                             */
                            header?: boolean;
                            /**
                             * @description Start with a UTF-8 byte order mark (helps Excel on Windows read accents)
                             * @default false
                             */
                            bom?: boolean;
                            /**
                             * @description Line breaks: crlf (Windows, RFC 4180) or lf (Unix)
                             * @default crlf
                             * @enum {string}
                             */
                            lineEnding?: "crlf" | "lf";
                            /**
                             * @description What an empty (NULL) value is written as
                             * @default
                             */
                            nullText?: string;
                            /**
                             * @description Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula
                             * @default true
                             */
                            formulaProtection?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The worksheet name: 1 to 31 characters without [ ] : * ? / \
                             * @default Export
                             */
                            sheetName?: string;
                            /**
                             * @description Write every decimal and big integer as text with all its digits. Off: numbers, except values a cell cannot hold exactly (more than 15 significant digits), which are text
                             * @default false
                             */
                            exactDecimals?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly
                             * @default number
                             * @enum {string}
                             */
                            decimals?: "number" | "string";
                            /**
                             * @deprecated
                             * @description The earlier name of decimals, still accepted; decimals wins when both are given
                             * @enum {string}
                             */
                            exactNumbers?: "number" | "string";
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly
                             * @default number
                             * @enum {string}
                             */
                            decimals?: "number" | "string";
                            /**
                             * @deprecated
                             * @description The earlier name of decimals, still accepted; decimals wins when both are given
                             * @enum {string}
                             */
                            exactNumbers?: "number" | "string";
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The name of the element around all rows
                             * @default rows
                             */
                            rootElement?: string;
                            /**
                             * @description The name of the element of each row
                             * @default row
                             */
                            rowElement?: string;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /** @description The heading on the first page (default: the report's name) */
                            title?: string;
                            /**
                             * @description Landscape pages, for reports with many columns
                             * @default false
                             */
                            landscape?: boolean;
                            /**
                             * @description At most this many rows; a note says when rows were left out
                             * @default 10000
                             */
                            rowCap?: number;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description bookings: Buchungsstapel (category 21, format 13) for the period; accounts: Debitoren/Kreditoren master data (category 16, format 5), one line per personal account, its mapping by friendly keys or DATEV column names
                             * @default bookings
                             * @enum {string}
                             */
                            kind?: "bookings" | "accounts";
                            /** @description Beraternummer: the tax advisor’s consultant number (1001–9999999) */
                            consultantNumber: number;
                            /** @description Mandantennummer (1–99999) */
                            clientNumber: number;
                            /**
                             * @description The month the fiscal year starts in
                             * @default 1
                             */
                            fiscalYearStartMonth?: number;
                            /**
                             * @description Sachkontenlänge: digits of a G/L account (personal accounts have one more)
                             * @default 4
                             */
                            accountLength?: number;
                            /** @description Sachkontenrahmen, e.g. 03 (SKR03) or 04 (SKR04) */
                            chartOfAccounts?: string;
                            /**
                             * @description The batch’s currency (ISO 4217)
                             * @default EUR
                             */
                            currency?: string;
                            /** @description Bezeichnung of the batch, up to 30 characters (default: the report’s name) */
                            batchName?: string;
                            /** @description Diktatkürzel: up to two letters */
                            dictationCode?: string;
                            /**
                             * @description Herkunft: two characters naming the source
                             * @default FY
                             */
                            origin?: string;
                            /**
                             * @description Exportiert von: who made the file
                             * @default Ferry
                             */
                            exportedBy?: string;
                            /**
                             * @description Festschreibung: the advisor may not change the bookings after import
                             * @default false
                             */
                            locked?: boolean;
                            /**
                             * @description Text longer than its DATEV field: fail the run naming the row, or cut it with a warning
                             * @default fail
                             * @enum {string}
                             */
                            tooLong?: "fail" | "truncate";
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The columns of the file, in order, as the installation's import profile expects them
                             * @default [
                             *       "satzart",
                             *       "konto",
                             *       "gkonto",
                             *       "belegnr",
                             *       "belegdatum",
                             *       "buchsymbol",
                             *       "buchcode",
                             *       "prozent",
                             *       "steuercode",
                             *       "betrag",
                             *       "steuer",
                             *       "text"
                             *     ]
                             */
                            fields?: ("satzart" | "konto" | "gkonto" | "belegnr" | "belegdatum" | "buchsymbol" | "buchcode" | "prozent" | "steuercode" | "betrag" | "steuer" | "text" | "kost")[];
                            /**
                             * @description The file’s character set
                             * @default windows-1252
                             * @enum {string}
                             */
                            encoding?: "windows-1252" | "utf-8";
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The national schema: NO, the Norwegian SAF-T Financial 1.30 (other variants are a new mapping)
                             * @default NO
                             * @enum {string}
                             */
                            variant?: "NO";
                            /** @description Company: the name of the company the ledger is of */
                            companyName: string;
                            /** @description Company: its registration number (Norway: the 9-digit organisation number) */
                            registrationNumber: string;
                            /** @description Company address: street */
                            streetName?: string;
                            /** @description Company address: city */
                            city: string;
                            /** @description Company address: postal code */
                            postalCode: string;
                            /**
                             * @description Company address: ISO 3166 country code
                             * @default NO
                             */
                            country?: string;
                            /** @description Contact person: first name */
                            contactFirstName: string;
                            /** @description Contact person: last name */
                            contactLastName: string;
                            /** @description Contact: e-mail address */
                            email?: string;
                            /** @description Contact: telephone number (SAF-T NO requires one) */
                            telephone: string;
                            /**
                             * @description DefaultCurrencyCode (ISO 4217)
                             * @default NOK
                             */
                            currency?: string;
                            /** @description The accounts’ grouping category when the report has no grouping_category column (e.g. RF-1167) */
                            groupingCategory?: string;
                            /**
                             * @description The journal the entries are in (JournalID)
                             * @default GL
                             */
                            journalId?: string;
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        };
                        /** @description IANA zone for relative dates and the file name (default UTC) */
                        timezone?: string;
                        /** @description Where the file goes once it is made (GET /api/v1/destinations); each gets it on its own */
                        destinationIds?: string[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            /** @enum {string} */
                            status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped_missed" | "skipped_overlap" | "skipped_condition";
                            /**
                             * @description manual: started in the app by a user (createdBy); api: with an API key; schedule; cli
                             * @enum {string}
                             */
                            trigger: "manual" | "api" | "schedule" | "cli";
                            scheduleId: string | null;
                            scheduleName: string | null;
                            scheduleTimeZone: string | null;
                            createdBy: {
                                id: string;
                                name: string;
                            } | null;
                            reportId: string | null;
                            /** @description As it was when the run was created */
                            reportName: string;
                            connectionId: string | null;
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The values given */
                            parameters: {
                                [key: string]: unknown;
                            };
                            /** @description Zone of relative dates and the file name */
                            timezone: string;
                            scheduledFor: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            startedAt: string | null;
                            finishedAt: string | null;
                            durationMs: number | null;
                            /** @description Attempts started so far */
                            attempts: number;
                            maxAttempts: number;
                            progress: {
                                rows: number;
                                bytes: number;
                                /** @description While running: the share of the rows of the last identical successful run (at most 99) */
                                percent: number | null;
                                expectedRows: number | null;
                            };
                            rowCount: number | null;
                            fileName: string | null;
                            fileSize: number | null;
                            contentType: string | null;
                            checksum: string | null;
                            /** @description What the file had to change in values its format cannot carry, counted per kind (e.g. characters XML 1.0 cannot hold, replaced by U+FFFD) */
                            warnings: {
                                code: string;
                                message: string;
                                count: number;
                            }[];
                            cancelRequested: boolean;
                            error: string | null;
                            errorCode: string | null;
                            errorStage: ("query" | "file") | null;
                            errorLocation: {
                                line: number;
                                column: number;
                            } | null;
                            /** @description Queued again after a failed attempt, waiting for the next one */
                            retrying: boolean;
                            lastFailure: {
                                /** @description The attempt that failed */
                                attempt: number;
                                error: string;
                                errorCode: string | null;
                                errorStage: ("query" | "file") | null;
                                errorLocation: {
                                    line: number;
                                    column: number;
                                } | null;
                            } | null;
                            /** @description While retrying (on GET /runs/{id}): when the next attempt starts */
                            nextAttemptAt: string | null;
                            /** @description Where the file goes once it is made */
                            destinationIds: string[];
                            burst: {
                                /** @description lead: the run that read the schedule's recipients query and made one run per recipient; recipient: one of those runs */
                                role: "lead" | "recipient";
                                leadRunId: string | null;
                                recipient: string | null;
                                recipients: number | null;
                            } | null;
                            /** @description Each destination of the run: status, attempts, timings and the peer’s answer */
                            deliveries: {
                                id: string;
                                destinationId: string | null;
                                destinationName: string;
                                destinationType: string;
                                /** @enum {string} */
                                status: "queued" | "sending" | "succeeded" | "failed";
                                attempts: number;
                                maxAttempts: number;
                                /** Format: date-time */
                                createdAt: string;
                                startedAt: string | null;
                                finishedAt: string | null;
                                /** @description While queued for a retry: when */
                                nextAttemptAt: string | null;
                                receipt: {
                                    summary: string;
                                    details: {
                                        [key: string]: unknown;
                                    };
                                } | null;
                                error: string | null;
                            }[];
                            /** @description "2 of 3 destinations delivered": a failed delivery never changes the run’s own status */
                            deliverySummary: {
                                total: number;
                                succeeded: number;
                                failed: number;
                                /** @description Queued or sending */
                                pending: number;
                            };
                            /** @description GET /runs/{id}: the file can be downloaded (not expired or deleted) */
                            hasFile?: boolean;
                            file?: {
                                state: "available" | "expired";
                                /** Format: date-time */
                                expiresAt: string;
                            } | null;
                            /** @description GET /runs/{id}: every attempt, first first */
                            attemptHistory?: {
                                number: number;
                                worker: string;
                                /** @enum {string} */
                                status: "running" | "succeeded" | "failed" | "lost" | "cancelled";
                                /** Format: date-time */
                                startedAt: string;
                                finishedAt: string | null;
                                error: string | null;
                            }[];
                            /** @description GET /runs/{id}: every download of the file */
                            downloads?: {
                                /** @enum {string} */
                                via: "api" | "link";
                                actorType: string | null;
                                actorId: string | null;
                                ip: string | null;
                                userAgent: string | null;
                                range: string | null;
                                /** Format: date-time */
                                at: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Run history, newest first
         * @description Filters combine with AND. from/to bound the creation time (from inclusive, to exclusive). Each run names its schedule (and its zone) and who started it.
         */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                    status?: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped_missed" | "skipped_overlap" | "skipped_condition";
                    reportId?: string;
                    scheduleId?: string;
                    trigger?: "manual" | "api" | "schedule" | "cli";
                    /** @description A burst's lead run: the runs it made, one per recipient */
                    burstId?: string;
                    /** @description Only failed runs and runs waiting to be retried after a failed attempt */
                    failedOnly?: boolean;
                    from?: string;
                    to?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                /** @enum {string} */
                                status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped_missed" | "skipped_overlap" | "skipped_condition";
                                /**
                                 * @description manual: started in the app by a user (createdBy); api: with an API key; schedule; cli
                                 * @enum {string}
                                 */
                                trigger: "manual" | "api" | "schedule" | "cli";
                                scheduleId: string | null;
                                scheduleName: string | null;
                                scheduleTimeZone: string | null;
                                createdBy: {
                                    id: string;
                                    name: string;
                                } | null;
                                reportId: string | null;
                                /** @description As it was when the run was created */
                                reportName: string;
                                connectionId: string | null;
                                format: string;
                                formatOptions: {
                                    [key: string]: unknown;
                                };
                                /** @description The values given */
                                parameters: {
                                    [key: string]: unknown;
                                };
                                /** @description Zone of relative dates and the file name */
                                timezone: string;
                                scheduledFor: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                startedAt: string | null;
                                finishedAt: string | null;
                                durationMs: number | null;
                                /** @description Attempts started so far */
                                attempts: number;
                                maxAttempts: number;
                                progress: {
                                    rows: number;
                                    bytes: number;
                                    /** @description While running: the share of the rows of the last identical successful run (at most 99) */
                                    percent: number | null;
                                    expectedRows: number | null;
                                };
                                rowCount: number | null;
                                fileName: string | null;
                                fileSize: number | null;
                                contentType: string | null;
                                checksum: string | null;
                                /** @description What the file had to change in values its format cannot carry, counted per kind (e.g. characters XML 1.0 cannot hold, replaced by U+FFFD) */
                                warnings: {
                                    code: string;
                                    message: string;
                                    count: number;
                                }[];
                                cancelRequested: boolean;
                                error: string | null;
                                errorCode: string | null;
                                errorStage: ("query" | "file") | null;
                                errorLocation: {
                                    line: number;
                                    column: number;
                                } | null;
                                /** @description Queued again after a failed attempt, waiting for the next one */
                                retrying: boolean;
                                lastFailure: {
                                    /** @description The attempt that failed */
                                    attempt: number;
                                    error: string;
                                    errorCode: string | null;
                                    errorStage: ("query" | "file") | null;
                                    errorLocation: {
                                        line: number;
                                        column: number;
                                    } | null;
                                } | null;
                                /** @description While retrying (on GET /runs/{id}): when the next attempt starts */
                                nextAttemptAt: string | null;
                                /** @description Where the file goes once it is made */
                                destinationIds: string[];
                                burst: {
                                    /** @description lead: the run that read the schedule's recipients query and made one run per recipient; recipient: one of those runs */
                                    role: "lead" | "recipient";
                                    leadRunId: string | null;
                                    recipient: string | null;
                                    recipients: number | null;
                                } | null;
                                /** @description Each destination of the run: status, attempts, timings and the peer’s answer */
                                deliveries: {
                                    id: string;
                                    destinationId: string | null;
                                    destinationName: string;
                                    destinationType: string;
                                    /** @enum {string} */
                                    status: "queued" | "sending" | "succeeded" | "failed";
                                    attempts: number;
                                    maxAttempts: number;
                                    /** Format: date-time */
                                    createdAt: string;
                                    startedAt: string | null;
                                    finishedAt: string | null;
                                    /** @description While queued for a retry: when */
                                    nextAttemptAt: string | null;
                                    receipt: {
                                        summary: string;
                                        details: {
                                            [key: string]: unknown;
                                        };
                                    } | null;
                                    error: string | null;
                                }[];
                                /** @description "2 of 3 destinations delivered": a failed delivery never changes the run’s own status */
                                deliverySummary: {
                                    total: number;
                                    succeeded: number;
                                    failed: number;
                                    /** @description Queued or sending */
                                    pending: number;
                                };
                                /** @description GET /runs/{id}: the file can be downloaded (not expired or deleted) */
                                hasFile?: boolean;
                                file?: {
                                    state: "available" | "expired";
                                    /** Format: date-time */
                                    expiresAt: string;
                                } | null;
                                /** @description GET /runs/{id}: every attempt, first first */
                                attemptHistory?: {
                                    number: number;
                                    worker: string;
                                    /** @enum {string} */
                                    status: "running" | "succeeded" | "failed" | "lost" | "cancelled";
                                    /** Format: date-time */
                                    startedAt: string;
                                    finishedAt: string | null;
                                    error: string | null;
                                }[];
                                /** @description GET /runs/{id}: every download of the file */
                                downloads?: {
                                    /** @enum {string} */
                                    via: "api" | "link";
                                    actorType: string | null;
                                    actorId: string | null;
                                    ip: string | null;
                                    userAgent: string | null;
                                    range: string | null;
                                    /** Format: date-time */
                                    at: string;
                                }[];
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A run with its attempts and downloads */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            /** @enum {string} */
                            status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped_missed" | "skipped_overlap" | "skipped_condition";
                            /**
                             * @description manual: started in the app by a user (createdBy); api: with an API key; schedule; cli
                             * @enum {string}
                             */
                            trigger: "manual" | "api" | "schedule" | "cli";
                            scheduleId: string | null;
                            scheduleName: string | null;
                            scheduleTimeZone: string | null;
                            createdBy: {
                                id: string;
                                name: string;
                            } | null;
                            reportId: string | null;
                            /** @description As it was when the run was created */
                            reportName: string;
                            connectionId: string | null;
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The values given */
                            parameters: {
                                [key: string]: unknown;
                            };
                            /** @description Zone of relative dates and the file name */
                            timezone: string;
                            scheduledFor: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            startedAt: string | null;
                            finishedAt: string | null;
                            durationMs: number | null;
                            /** @description Attempts started so far */
                            attempts: number;
                            maxAttempts: number;
                            progress: {
                                rows: number;
                                bytes: number;
                                /** @description While running: the share of the rows of the last identical successful run (at most 99) */
                                percent: number | null;
                                expectedRows: number | null;
                            };
                            rowCount: number | null;
                            fileName: string | null;
                            fileSize: number | null;
                            contentType: string | null;
                            checksum: string | null;
                            /** @description What the file had to change in values its format cannot carry, counted per kind (e.g. characters XML 1.0 cannot hold, replaced by U+FFFD) */
                            warnings: {
                                code: string;
                                message: string;
                                count: number;
                            }[];
                            cancelRequested: boolean;
                            error: string | null;
                            errorCode: string | null;
                            errorStage: ("query" | "file") | null;
                            errorLocation: {
                                line: number;
                                column: number;
                            } | null;
                            /** @description Queued again after a failed attempt, waiting for the next one */
                            retrying: boolean;
                            lastFailure: {
                                /** @description The attempt that failed */
                                attempt: number;
                                error: string;
                                errorCode: string | null;
                                errorStage: ("query" | "file") | null;
                                errorLocation: {
                                    line: number;
                                    column: number;
                                } | null;
                            } | null;
                            /** @description While retrying (on GET /runs/{id}): when the next attempt starts */
                            nextAttemptAt: string | null;
                            /** @description Where the file goes once it is made */
                            destinationIds: string[];
                            burst: {
                                /** @description lead: the run that read the schedule's recipients query and made one run per recipient; recipient: one of those runs */
                                role: "lead" | "recipient";
                                leadRunId: string | null;
                                recipient: string | null;
                                recipients: number | null;
                            } | null;
                            /** @description Each destination of the run: status, attempts, timings and the peer’s answer */
                            deliveries: {
                                id: string;
                                destinationId: string | null;
                                destinationName: string;
                                destinationType: string;
                                /** @enum {string} */
                                status: "queued" | "sending" | "succeeded" | "failed";
                                attempts: number;
                                maxAttempts: number;
                                /** Format: date-time */
                                createdAt: string;
                                startedAt: string | null;
                                finishedAt: string | null;
                                /** @description While queued for a retry: when */
                                nextAttemptAt: string | null;
                                receipt: {
                                    summary: string;
                                    details: {
                                        [key: string]: unknown;
                                    };
                                } | null;
                                error: string | null;
                            }[];
                            /** @description "2 of 3 destinations delivered": a failed delivery never changes the run’s own status */
                            deliverySummary: {
                                total: number;
                                succeeded: number;
                                failed: number;
                                /** @description Queued or sending */
                                pending: number;
                            };
                            /** @description GET /runs/{id}: the file can be downloaded (not expired or deleted) */
                            hasFile?: boolean;
                            file?: {
                                state: "available" | "expired";
                                /** Format: date-time */
                                expiresAt: string;
                            } | null;
                            /** @description GET /runs/{id}: every attempt, first first */
                            attemptHistory?: {
                                number: number;
                                worker: string;
                                /** @enum {string} */
                                status: "running" | "succeeded" | "failed" | "lost" | "cancelled";
                                /** Format: date-time */
                                startedAt: string;
                                finishedAt: string | null;
                                error: string | null;
                            }[];
                            /** @description GET /runs/{id}: every download of the file */
                            downloads?: {
                                /** @enum {string} */
                                via: "api" | "link";
                                actorType: string | null;
                                actorId: string | null;
                                ip: string | null;
                                userAgent: string | null;
                                range: string | null;
                                /** Format: date-time */
                                at: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete a finished run and its file */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel a queued or running run */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            /** @enum {string} */
                            status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped_missed" | "skipped_overlap" | "skipped_condition";
                            /**
                             * @description manual: started in the app by a user (createdBy); api: with an API key; schedule; cli
                             * @enum {string}
                             */
                            trigger: "manual" | "api" | "schedule" | "cli";
                            scheduleId: string | null;
                            scheduleName: string | null;
                            scheduleTimeZone: string | null;
                            createdBy: {
                                id: string;
                                name: string;
                            } | null;
                            reportId: string | null;
                            /** @description As it was when the run was created */
                            reportName: string;
                            connectionId: string | null;
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The values given */
                            parameters: {
                                [key: string]: unknown;
                            };
                            /** @description Zone of relative dates and the file name */
                            timezone: string;
                            scheduledFor: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            startedAt: string | null;
                            finishedAt: string | null;
                            durationMs: number | null;
                            /** @description Attempts started so far */
                            attempts: number;
                            maxAttempts: number;
                            progress: {
                                rows: number;
                                bytes: number;
                                /** @description While running: the share of the rows of the last identical successful run (at most 99) */
                                percent: number | null;
                                expectedRows: number | null;
                            };
                            rowCount: number | null;
                            fileName: string | null;
                            fileSize: number | null;
                            contentType: string | null;
                            checksum: string | null;
                            /** @description What the file had to change in values its format cannot carry, counted per kind (e.g. characters XML 1.0 cannot hold, replaced by U+FFFD) */
                            warnings: {
                                code: string;
                                message: string;
                                count: number;
                            }[];
                            cancelRequested: boolean;
                            error: string | null;
                            errorCode: string | null;
                            errorStage: ("query" | "file") | null;
                            errorLocation: {
                                line: number;
                                column: number;
                            } | null;
                            /** @description Queued again after a failed attempt, waiting for the next one */
                            retrying: boolean;
                            lastFailure: {
                                /** @description The attempt that failed */
                                attempt: number;
                                error: string;
                                errorCode: string | null;
                                errorStage: ("query" | "file") | null;
                                errorLocation: {
                                    line: number;
                                    column: number;
                                } | null;
                            } | null;
                            /** @description While retrying (on GET /runs/{id}): when the next attempt starts */
                            nextAttemptAt: string | null;
                            /** @description Where the file goes once it is made */
                            destinationIds: string[];
                            burst: {
                                /** @description lead: the run that read the schedule's recipients query and made one run per recipient; recipient: one of those runs */
                                role: "lead" | "recipient";
                                leadRunId: string | null;
                                recipient: string | null;
                                recipients: number | null;
                            } | null;
                            /** @description Each destination of the run: status, attempts, timings and the peer’s answer */
                            deliveries: {
                                id: string;
                                destinationId: string | null;
                                destinationName: string;
                                destinationType: string;
                                /** @enum {string} */
                                status: "queued" | "sending" | "succeeded" | "failed";
                                attempts: number;
                                maxAttempts: number;
                                /** Format: date-time */
                                createdAt: string;
                                startedAt: string | null;
                                finishedAt: string | null;
                                /** @description While queued for a retry: when */
                                nextAttemptAt: string | null;
                                receipt: {
                                    summary: string;
                                    details: {
                                        [key: string]: unknown;
                                    };
                                } | null;
                                error: string | null;
                            }[];
                            /** @description "2 of 3 destinations delivered": a failed delivery never changes the run’s own status */
                            deliverySummary: {
                                total: number;
                                succeeded: number;
                                failed: number;
                                /** @description Queued or sending */
                                pending: number;
                            };
                            /** @description GET /runs/{id}: the file can be downloaded (not expired or deleted) */
                            hasFile?: boolean;
                            file?: {
                                state: "available" | "expired";
                                /** Format: date-time */
                                expiresAt: string;
                            } | null;
                            /** @description GET /runs/{id}: every attempt, first first */
                            attemptHistory?: {
                                number: number;
                                worker: string;
                                /** @enum {string} */
                                status: "running" | "succeeded" | "failed" | "lost" | "cancelled";
                                /** Format: date-time */
                                startedAt: string;
                                finishedAt: string | null;
                                error: string | null;
                            }[];
                            /** @description GET /runs/{id}: every download of the file */
                            downloads?: {
                                /** @enum {string} */
                                via: "api" | "link";
                                actorType: string | null;
                                actorId: string | null;
                                ip: string | null;
                                userAgent: string | null;
                                range: string | null;
                                /** Format: date-time */
                                at: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Start a new attempt of a failed run */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            /** @enum {string} */
                            status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped_missed" | "skipped_overlap" | "skipped_condition";
                            /**
                             * @description manual: started in the app by a user (createdBy); api: with an API key; schedule; cli
                             * @enum {string}
                             */
                            trigger: "manual" | "api" | "schedule" | "cli";
                            scheduleId: string | null;
                            scheduleName: string | null;
                            scheduleTimeZone: string | null;
                            createdBy: {
                                id: string;
                                name: string;
                            } | null;
                            reportId: string | null;
                            /** @description As it was when the run was created */
                            reportName: string;
                            connectionId: string | null;
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The values given */
                            parameters: {
                                [key: string]: unknown;
                            };
                            /** @description Zone of relative dates and the file name */
                            timezone: string;
                            scheduledFor: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            startedAt: string | null;
                            finishedAt: string | null;
                            durationMs: number | null;
                            /** @description Attempts started so far */
                            attempts: number;
                            maxAttempts: number;
                            progress: {
                                rows: number;
                                bytes: number;
                                /** @description While running: the share of the rows of the last identical successful run (at most 99) */
                                percent: number | null;
                                expectedRows: number | null;
                            };
                            rowCount: number | null;
                            fileName: string | null;
                            fileSize: number | null;
                            contentType: string | null;
                            checksum: string | null;
                            /** @description What the file had to change in values its format cannot carry, counted per kind (e.g. characters XML 1.0 cannot hold, replaced by U+FFFD) */
                            warnings: {
                                code: string;
                                message: string;
                                count: number;
                            }[];
                            cancelRequested: boolean;
                            error: string | null;
                            errorCode: string | null;
                            errorStage: ("query" | "file") | null;
                            errorLocation: {
                                line: number;
                                column: number;
                            } | null;
                            /** @description Queued again after a failed attempt, waiting for the next one */
                            retrying: boolean;
                            lastFailure: {
                                /** @description The attempt that failed */
                                attempt: number;
                                error: string;
                                errorCode: string | null;
                                errorStage: ("query" | "file") | null;
                                errorLocation: {
                                    line: number;
                                    column: number;
                                } | null;
                            } | null;
                            /** @description While retrying (on GET /runs/{id}): when the next attempt starts */
                            nextAttemptAt: string | null;
                            /** @description Where the file goes once it is made */
                            destinationIds: string[];
                            burst: {
                                /** @description lead: the run that read the schedule's recipients query and made one run per recipient; recipient: one of those runs */
                                role: "lead" | "recipient";
                                leadRunId: string | null;
                                recipient: string | null;
                                recipients: number | null;
                            } | null;
                            /** @description Each destination of the run: status, attempts, timings and the peer’s answer */
                            deliveries: {
                                id: string;
                                destinationId: string | null;
                                destinationName: string;
                                destinationType: string;
                                /** @enum {string} */
                                status: "queued" | "sending" | "succeeded" | "failed";
                                attempts: number;
                                maxAttempts: number;
                                /** Format: date-time */
                                createdAt: string;
                                startedAt: string | null;
                                finishedAt: string | null;
                                /** @description While queued for a retry: when */
                                nextAttemptAt: string | null;
                                receipt: {
                                    summary: string;
                                    details: {
                                        [key: string]: unknown;
                                    };
                                } | null;
                                error: string | null;
                            }[];
                            /** @description "2 of 3 destinations delivered": a failed delivery never changes the run’s own status */
                            deliverySummary: {
                                total: number;
                                succeeded: number;
                                failed: number;
                                /** @description Queued or sending */
                                pending: number;
                            };
                            /** @description GET /runs/{id}: the file can be downloaded (not expired or deleted) */
                            hasFile?: boolean;
                            file?: {
                                state: "available" | "expired";
                                /** Format: date-time */
                                expiresAt: string;
                            } | null;
                            /** @description GET /runs/{id}: every attempt, first first */
                            attemptHistory?: {
                                number: number;
                                worker: string;
                                /** @enum {string} */
                                status: "running" | "succeeded" | "failed" | "lost" | "cancelled";
                                /** Format: date-time */
                                startedAt: string;
                                finishedAt: string | null;
                                error: string | null;
                            }[];
                            /** @description GET /runs/{id}: every download of the file */
                            downloads?: {
                                /** @enum {string} */
                                via: "api" | "link";
                                actorType: string | null;
                                actorId: string | null;
                                ip: string | null;
                                userAgent: string | null;
                                range: string | null;
                                /** Format: date-time */
                                at: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/link": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A signed download URL (default 1 hour) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        ttlSeconds?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            url: string;
                            /** Format: date-time */
                            expiresAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/download": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The file (supports Range) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/d/{token}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The file, for anyone holding an unexpired signed link */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    token: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Server-sent events: the run whenever its status or progress changes
         * @description At most FERRY_MAX_EVENT_STREAMS (default 20) streams per user or API key are open at once; one more is answered 429.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports/{id}/format-check": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Validate a format's settings and mapping on the report's first rows, and show the file's first lines; no file
         * @description Runs the report (at most `rows` rows, default 1000) through the format's writer as a run would. A row the format cannot take (an unmapped field, a date outside the period, an account too long) comes back as `problem` with its row and field; `ok` is then false.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        format: "csv" | "tsv" | "xlsx" | "json" | "ndjson" | "xml" | "pdf" | "datev" | "bmd" | "saft";
                        /** @description The options of the chosen format (each format has its schema) plus compression and fileName, which every format takes. An option the format does not take is refused with a 400 naming it. */
                        formatOptions?: {
                            /**
                             * @description The character between values, e.g. , or ; (German Excel)
                             * @default ,
                             */
                            delimiter?: string;
                            /**
                             * @description The character around values that contain the delimiter, a quote or a line break
                             * @default "
                             */
                            quote?: string;
                            /**
                             * @description Write the column names as the first line
                             * @default true
                             */
                            header?: boolean;
                            /**
                             * @description Start with a UTF-8 byte order mark (helps Excel on Windows read accents)
                             * @default false
                             */
                            bom?: boolean;
                            /**
                             * @description Line breaks: crlf (Windows, RFC 4180) or lf (Unix)
                             * @default crlf
                             * @enum {string}
                             */
                            lineEnding?: "crlf" | "lf";
                            /**
                             * @description What an empty (NULL) value is written as
                             * @default
                             */
                            nullText?: string;
                            /**
                             * @description Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula
                             * @default true
                             */
                            formulaProtection?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Write the column names as the first line
                             * @default true
                             */
                            header?: boolean;
                            /**
                             * @description Start with a UTF-8 byte order mark (helps Excel on Windows read accents)
                             * @default false
                             */
                            bom?: boolean;
                            /**
                             * @description Line breaks: crlf (Windows, RFC 4180) or lf (Unix)
                             * @default crlf
                             * @enum {string}
                             */
                            lineEnding?: "crlf" | "lf";
                            /**
                             * @description What an empty (NULL) value is written as
                             * @default
                             */
                            nullText?: string;
                            /**
                             * @description Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula
                             * @default true
                             */
                            formulaProtection?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The worksheet name: 1 to 31 characters without [ ] : * ? / \
                             * @default Export
                             */
                            sheetName?: string;
                            /**
                             * @description Write every decimal and big integer as text with all its digits. Off: numbers, except values a cell cannot hold exactly (more than 15 significant digits), which are text
                             * @default false
                             */
                            exactDecimals?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly
                             * @default number
                             * @enum {string}
                             */
                            decimals?: "number" | "string";
                            /**
                             * @deprecated
                             * @description The earlier name of decimals, still accepted; decimals wins when both are given
                             * @enum {string}
                             */
                            exactNumbers?: "number" | "string";
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly
                             * @default number
                             * @enum {string}
                             */
                            decimals?: "number" | "string";
                            /**
                             * @deprecated
                             * @description The earlier name of decimals, still accepted; decimals wins when both are given
                             * @enum {string}
                             */
                            exactNumbers?: "number" | "string";
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The name of the element around all rows
                             * @default rows
                             */
                            rootElement?: string;
                            /**
                             * @description The name of the element of each row
                             * @default row
                             */
                            rowElement?: string;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /** @description The heading on the first page (default: the report's name) */
                            title?: string;
                            /**
                             * @description Landscape pages, for reports with many columns
                             * @default false
                             */
                            landscape?: boolean;
                            /**
                             * @description At most this many rows; a note says when rows were left out
                             * @default 10000
                             */
                            rowCap?: number;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description bookings: Buchungsstapel (category 21, format 13) for the period; accounts: Debitoren/Kreditoren master data (category 16, format 5), one line per personal account, its mapping by friendly keys or DATEV column names
                             * @default bookings
                             * @enum {string}
                             */
                            kind?: "bookings" | "accounts";
                            /** @description Beraternummer: the tax advisor’s consultant number (1001–9999999) */
                            consultantNumber: number;
                            /** @description Mandantennummer (1–99999) */
                            clientNumber: number;
                            /**
                             * @description The month the fiscal year starts in
                             * @default 1
                             */
                            fiscalYearStartMonth?: number;
                            /**
                             * @description Sachkontenlänge: digits of a G/L account (personal accounts have one more)
                             * @default 4
                             */
                            accountLength?: number;
                            /** @description Sachkontenrahmen, e.g. 03 (SKR03) or 04 (SKR04) */
                            chartOfAccounts?: string;
                            /**
                             * @description The batch’s currency (ISO 4217)
                             * @default EUR
                             */
                            currency?: string;
                            /** @description Bezeichnung of the batch, up to 30 characters (default: the report’s name) */
                            batchName?: string;
                            /** @description Diktatkürzel: up to two letters */
                            dictationCode?: string;
                            /**
                             * @description Herkunft: two characters naming the source
                             * @default FY
                             */
                            origin?: string;
                            /**
                             * @description Exportiert von: who made the file
                             * @default Ferry
                             */
                            exportedBy?: string;
                            /**
                             * @description Festschreibung: the advisor may not change the bookings after import
                             * @default false
                             */
                            locked?: boolean;
                            /**
                             * @description Text longer than its DATEV field: fail the run naming the row, or cut it with a warning
                             * @default fail
                             * @enum {string}
                             */
                            tooLong?: "fail" | "truncate";
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The columns of the file, in order, as the installation's import profile expects them
                             * @default [
                             *       "satzart",
                             *       "konto",
                             *       "gkonto",
                             *       "belegnr",
                             *       "belegdatum",
                             *       "buchsymbol",
                             *       "buchcode",
                             *       "prozent",
                             *       "steuercode",
                             *       "betrag",
                             *       "steuer",
                             *       "text"
                             *     ]
                             */
                            fields?: ("satzart" | "konto" | "gkonto" | "belegnr" | "belegdatum" | "buchsymbol" | "buchcode" | "prozent" | "steuercode" | "betrag" | "steuer" | "text" | "kost")[];
                            /**
                             * @description The file’s character set
                             * @default windows-1252
                             * @enum {string}
                             */
                            encoding?: "windows-1252" | "utf-8";
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The national schema: NO, the Norwegian SAF-T Financial 1.30 (other variants are a new mapping)
                             * @default NO
                             * @enum {string}
                             */
                            variant?: "NO";
                            /** @description Company: the name of the company the ledger is of */
                            companyName: string;
                            /** @description Company: its registration number (Norway: the 9-digit organisation number) */
                            registrationNumber: string;
                            /** @description Company address: street */
                            streetName?: string;
                            /** @description Company address: city */
                            city: string;
                            /** @description Company address: postal code */
                            postalCode: string;
                            /**
                             * @description Company address: ISO 3166 country code
                             * @default NO
                             */
                            country?: string;
                            /** @description Contact person: first name */
                            contactFirstName: string;
                            /** @description Contact person: last name */
                            contactLastName: string;
                            /** @description Contact: e-mail address */
                            email?: string;
                            /** @description Contact: telephone number (SAF-T NO requires one) */
                            telephone: string;
                            /**
                             * @description DefaultCurrencyCode (ISO 4217)
                             * @default NOK
                             */
                            currency?: string;
                            /** @description The accounts’ grouping category when the report has no grouping_category column (e.g. RF-1167) */
                            groupingCategory?: string;
                            /**
                             * @description The journal the entries are in (JournalID)
                             * @default GL
                             */
                            journalId?: string;
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        };
                        parameters?: {
                            [key: string]: unknown;
                        };
                        timezone?: string;
                        rows?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            ok: boolean;
                            rowsChecked: number;
                            problem: {
                                message: string;
                                /** @description 1-based, as the report returns rows */
                                row: number | null;
                                field: string | null;
                            } | null;
                            warnings: {
                                code: string;
                                message: string;
                                count: number;
                            }[];
                            /** @description The file's first lines as text; null for XLSX and PDF */
                            preview: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/formats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Export formats with their extension, content type and options
         * @description Each option with its type, allowed values, default and description, as the export and schedule requests validate them; plus the options every format takes (compression, fileName) and the file-name placeholders.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            formats: {
                                /** @enum {string} */
                                format: "csv" | "tsv" | "xlsx" | "json" | "ndjson" | "xml" | "pdf" | "datev" | "bmd" | "saft";
                                extension: string;
                                contentType: string;
                                /** @description The format's own options */
                                options: {
                                    name: string;
                                    /**
                                     * @description json: a structured option (an accounting mapping, a field list), its default as JSON text
                                     * @enum {string}
                                     */
                                    type: "string" | "boolean" | "integer" | "enum" | "json";
                                    /** @description enum: the values allowed */
                                    values?: string[];
                                    /** @description Used when the option is left out; absent when it depends on the export */
                                    default?: string | number | boolean;
                                    minimum?: number;
                                    maximum?: number;
                                    minLength?: number;
                                    maxLength?: number;
                                    description: string;
                                }[];
                                /** @description Accounting formats: the fields formatOptions.mapping fills */
                                fields?: {
                                    key: string;
                                    /** @description The name in the format's own documentation */
                                    label: string;
                                    required: boolean;
                                    /** @description Report columns that fill the field when the mapping leaves it out, in order */
                                    defaults: string[];
                                    description: string;
                                }[];
                            }[];
                            /** @description Options every format takes (in formatOptions too) */
                            common: {
                                name: string;
                                /**
                                 * @description json: a structured option (an accounting mapping, a field list), its default as JSON text
                                 * @enum {string}
                                 */
                                type: "string" | "boolean" | "integer" | "enum" | "json";
                                /** @description enum: the values allowed */
                                values?: string[];
                                /** @description Used when the option is left out; absent when it depends on the export */
                                default?: string | number | boolean;
                                minimum?: number;
                                maximum?: number;
                                minLength?: number;
                                maxLength?: number;
                                description: string;
                            }[];
                            fileName: {
                                /** @description The template used when fileName is left out */
                                default: string;
                                placeholders: {
                                    placeholder: string;
                                    description: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/formats/file-name": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The file name a run would write, for a report, format, options, zone and time
         * @description Rendered by the run's own code. {run} shows as the first 8 characters of a sample id, since the run does not exist yet. A wrong option or template is a 400 naming it.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        format: "csv" | "tsv" | "xlsx" | "json" | "ndjson" | "xml" | "pdf" | "datev" | "bmd" | "saft";
                        /** @description The options of the chosen format (each format has its schema) plus compression and fileName, which every format takes. An option the format does not take is refused with a 400 naming it. */
                        formatOptions?: {
                            /**
                             * @description The character between values, e.g. , or ; (German Excel)
                             * @default ,
                             */
                            delimiter?: string;
                            /**
                             * @description The character around values that contain the delimiter, a quote or a line break
                             * @default "
                             */
                            quote?: string;
                            /**
                             * @description Write the column names as the first line
                             * @default true
                             */
                            header?: boolean;
                            /**
                             * @description Start with a UTF-8 byte order mark (helps Excel on Windows read accents)
                             * @default false
                             */
                            bom?: boolean;
                            /**
                             * @description Line breaks: crlf (Windows, RFC 4180) or lf (Unix)
                             * @default crlf
                             * @enum {string}
                             */
                            lineEnding?: "crlf" | "lf";
                            /**
                             * @description What an empty (NULL) value is written as
                             * @default
                             */
                            nullText?: string;
                            /**
                             * @description Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula
                             * @default true
                             */
                            formulaProtection?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Write the column names as the first line
                             * @default true
                             */
                            header?: boolean;
                            /**
                             * @description Start with a UTF-8 byte order mark (helps Excel on Windows read accents)
                             * @default false
                             */
                            bom?: boolean;
                            /**
                             * @description Line breaks: crlf (Windows, RFC 4180) or lf (Unix)
                             * @default crlf
                             * @enum {string}
                             */
                            lineEnding?: "crlf" | "lf";
                            /**
                             * @description What an empty (NULL) value is written as
                             * @default
                             */
                            nullText?: string;
                            /**
                             * @description Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula
                             * @default true
                             */
                            formulaProtection?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The worksheet name: 1 to 31 characters without [ ] : * ? / \
                             * @default Export
                             */
                            sheetName?: string;
                            /**
                             * @description Write every decimal and big integer as text with all its digits. Off: numbers, except values a cell cannot hold exactly (more than 15 significant digits), which are text
                             * @default false
                             */
                            exactDecimals?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly
                             * @default number
                             * @enum {string}
                             */
                            decimals?: "number" | "string";
                            /**
                             * @deprecated
                             * @description The earlier name of decimals, still accepted; decimals wins when both are given
                             * @enum {string}
                             */
                            exactNumbers?: "number" | "string";
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly
                             * @default number
                             * @enum {string}
                             */
                            decimals?: "number" | "string";
                            /**
                             * @deprecated
                             * @description The earlier name of decimals, still accepted; decimals wins when both are given
                             * @enum {string}
                             */
                            exactNumbers?: "number" | "string";
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The name of the element around all rows
                             * @default rows
                             */
                            rootElement?: string;
                            /**
                             * @description The name of the element of each row
                             * @default row
                             */
                            rowElement?: string;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /** @description The heading on the first page (default: the report's name) */
                            title?: string;
                            /**
                             * @description Landscape pages, for reports with many columns
                             * @default false
                             */
                            landscape?: boolean;
                            /**
                             * @description At most this many rows; a note says when rows were left out
                             * @default 10000
                             */
                            rowCap?: number;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description bookings: Buchungsstapel (category 21, format 13) for the period; accounts: Debitoren/Kreditoren master data (category 16, format 5), one line per personal account, its mapping by friendly keys or DATEV column names
                             * @default bookings
                             * @enum {string}
                             */
                            kind?: "bookings" | "accounts";
                            /** @description Beraternummer: the tax advisor’s consultant number (1001–9999999) */
                            consultantNumber: number;
                            /** @description Mandantennummer (1–99999) */
                            clientNumber: number;
                            /**
                             * @description The month the fiscal year starts in
                             * @default 1
                             */
                            fiscalYearStartMonth?: number;
                            /**
                             * @description Sachkontenlänge: digits of a G/L account (personal accounts have one more)
                             * @default 4
                             */
                            accountLength?: number;
                            /** @description Sachkontenrahmen, e.g. 03 (SKR03) or 04 (SKR04) */
                            chartOfAccounts?: string;
                            /**
                             * @description The batch’s currency (ISO 4217)
                             * @default EUR
                             */
                            currency?: string;
                            /** @description Bezeichnung of the batch, up to 30 characters (default: the report’s name) */
                            batchName?: string;
                            /** @description Diktatkürzel: up to two letters */
                            dictationCode?: string;
                            /**
                             * @description Herkunft: two characters naming the source
                             * @default FY
                             */
                            origin?: string;
                            /**
                             * @description Exportiert von: who made the file
                             * @default Ferry
                             */
                            exportedBy?: string;
                            /**
                             * @description Festschreibung: the advisor may not change the bookings after import
                             * @default false
                             */
                            locked?: boolean;
                            /**
                             * @description Text longer than its DATEV field: fail the run naming the row, or cut it with a warning
                             * @default fail
                             * @enum {string}
                             */
                            tooLong?: "fail" | "truncate";
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The columns of the file, in order, as the installation's import profile expects them
                             * @default [
                             *       "satzart",
                             *       "konto",
                             *       "gkonto",
                             *       "belegnr",
                             *       "belegdatum",
                             *       "buchsymbol",
                             *       "buchcode",
                             *       "prozent",
                             *       "steuercode",
                             *       "betrag",
                             *       "steuer",
                             *       "text"
                             *     ]
                             */
                            fields?: ("satzart" | "konto" | "gkonto" | "belegnr" | "belegdatum" | "buchsymbol" | "buchcode" | "prozent" | "steuercode" | "betrag" | "steuer" | "text" | "kost")[];
                            /**
                             * @description The file’s character set
                             * @default windows-1252
                             * @enum {string}
                             */
                            encoding?: "windows-1252" | "utf-8";
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The national schema: NO, the Norwegian SAF-T Financial 1.30 (other variants are a new mapping)
                             * @default NO
                             * @enum {string}
                             */
                            variant?: "NO";
                            /** @description Company: the name of the company the ledger is of */
                            companyName: string;
                            /** @description Company: its registration number (Norway: the 9-digit organisation number) */
                            registrationNumber: string;
                            /** @description Company address: street */
                            streetName?: string;
                            /** @description Company address: city */
                            city: string;
                            /** @description Company address: postal code */
                            postalCode: string;
                            /**
                             * @description Company address: ISO 3166 country code
                             * @default NO
                             */
                            country?: string;
                            /** @description Contact person: first name */
                            contactFirstName: string;
                            /** @description Contact person: last name */
                            contactLastName: string;
                            /** @description Contact: e-mail address */
                            email?: string;
                            /** @description Contact: telephone number (SAF-T NO requires one) */
                            telephone: string;
                            /**
                             * @description DefaultCurrencyCode (ISO 4217)
                             * @default NOK
                             */
                            currency?: string;
                            /** @description The accounts’ grouping category when the report has no grouping_category column (e.g. RF-1167) */
                            groupingCategory?: string;
                            /**
                             * @description The journal the entries are in (JournalID)
                             * @default GL
                             */
                            journalId?: string;
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        };
                        reportName: string;
                        /** @description The run's zone (default UTC) */
                        timezone?: string;
                        /**
                         * Format: date-time
                         * @description The run's scheduled or start time (default now)
                         */
                        at?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            fileName: string;
                            /** @enum {string} */
                            compression: "none" | "gzip" | "zip";
                            /** Format: date-time */
                            at: string;
                            timezone: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Schedules of your tenant, with their next runs and last run
         * @description The `description` is in the language the Accept-Language header asks for (English or German).
         */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                    /** @description nextCursor from the previous page */
                    cursor?: string;
                    reportId?: string;
                    active?: boolean;
                };
                header?: {
                    /** @description The language of `description`: German for de, de-DE, de-AT (any de-…), English otherwise. q-values are honoured, e.g. "de-DE,de;q=0.9,en;q=0.8". Other text, such as validation errors, stays English. */
                    "accept-language"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                reportId: string;
                                parameters: {
                                    [key: string]: unknown;
                                };
                                format: string;
                                formatOptions: {
                                    [key: string]: unknown;
                                };
                                /** @description The timing as a cron expression; null when it is a preset no cron expression can say (last business day), described in `description` */
                                cron: string | null;
                                preset: {
                                    /** @enum {unknown} */
                                    kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                                    /** @description Local time HH:MM */
                                    time?: string;
                                    /** @description hourly: minute past the hour */
                                    minute?: number;
                                    /** @enum {unknown} */
                                    weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                                    /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                                    day?: number | "last" | "last_business_day";
                                    /** @description yearly: 1–12 */
                                    month?: number;
                                } | null;
                                timezone: string;
                                calendar: {
                                    /** @description ISO 3166-1 alpha-2, e.g. DE */
                                    country: string;
                                    /** @description e.g. BY for Bavaria */
                                    region?: string;
                                } | null;
                                /** @description The timing in words, ending with the zone */
                                description: string;
                                destinationIds: string[];
                                /** @description Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set. */
                                recipientsSql: string | null;
                                condition: "always" | "has_rows" | "changed";
                                missedPolicy: "latest" | "all" | "skip";
                                missedCap: number;
                                overlapPolicy: "skip" | "queue_one";
                                active: boolean;
                                /** @description Why a paused schedule is paused (by a user, or auto-paused after failures) */
                                pausedReason: string | null;
                                nextRunAt: string | null;
                                upcoming: string[];
                                pendingOccurrences: string[];
                                lastRun: {
                                    id: string;
                                    status: string;
                                    scheduledFor: string | null;
                                    /** Format: date-time */
                                    createdAt: string;
                                    finishedAt: string | null;
                                } | null;
                                notify: {
                                    emails: string[];
                                    pauseAfterFailures: number;
                                };
                                /** @description Failed runs in a row since the last success */
                                consecutiveFailures: number;
                                ownerId: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                updatedAt: string;
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /**
         * Create a schedule: a report, a format, and a cron expression or preset in a time zone
         * @description The `description` is in the language the Accept-Language header asks for (English or German).
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description The language of `description`: German for de, de-DE, de-AT (any de-…), English otherwise. q-values are honoured, e.g. "de-DE,de;q=0.9,en;q=0.8". Other text, such as validation errors, stays English. */
                    "accept-language"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        /** Format: uuid */
                        reportId: string;
                        parameters?: {
                            [key: string]: unknown;
                        };
                        format: "csv" | "tsv" | "xlsx" | "json" | "ndjson" | "xml" | "pdf" | "datev" | "bmd" | "saft";
                        /** @description The options of the chosen format (each format has its schema) plus compression and fileName, which every format takes. An option the format does not take is refused with a 400 naming it. */
                        formatOptions?: {
                            /**
                             * @description The character between values, e.g. , or ; (German Excel)
                             * @default ,
                             */
                            delimiter?: string;
                            /**
                             * @description The character around values that contain the delimiter, a quote or a line break
                             * @default "
                             */
                            quote?: string;
                            /**
                             * @description Write the column names as the first line
                             * @default true
                             */
                            header?: boolean;
                            /**
                             * @description Start with a UTF-8 byte order mark (helps Excel on Windows read accents)
                             * @default false
                             */
                            bom?: boolean;
                            /**
                             * @description Line breaks: crlf (Windows, RFC 4180) or lf (Unix)
                             * @default crlf
                             * @enum {string}
                             */
                            lineEnding?: "crlf" | "lf";
                            /**
                             * @description What an empty (NULL) value is written as
                             * @default
                             */
                            nullText?: string;
                            /**
                             * @description Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula
                             * @default true
                             */
                            formulaProtection?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Write the column names as the first line
                             * @default true
                             */
                            header?: boolean;
                            /**
                             * @description Start with a UTF-8 byte order mark (helps Excel on Windows read accents)
                             * @default false
                             */
                            bom?: boolean;
                            /**
                             * @description Line breaks: crlf (Windows, RFC 4180) or lf (Unix)
                             * @default crlf
                             * @enum {string}
                             */
                            lineEnding?: "crlf" | "lf";
                            /**
                             * @description What an empty (NULL) value is written as
                             * @default
                             */
                            nullText?: string;
                            /**
                             * @description Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula
                             * @default true
                             */
                            formulaProtection?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The worksheet name: 1 to 31 characters without [ ] : * ? / \
                             * @default Export
                             */
                            sheetName?: string;
                            /**
                             * @description Write every decimal and big integer as text with all its digits. Off: numbers, except values a cell cannot hold exactly (more than 15 significant digits), which are text
                             * @default false
                             */
                            exactDecimals?: boolean;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly
                             * @default number
                             * @enum {string}
                             */
                            decimals?: "number" | "string";
                            /**
                             * @deprecated
                             * @description The earlier name of decimals, still accepted; decimals wins when both are given
                             * @enum {string}
                             */
                            exactNumbers?: "number" | "string";
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly
                             * @default number
                             * @enum {string}
                             */
                            decimals?: "number" | "string";
                            /**
                             * @deprecated
                             * @description The earlier name of decimals, still accepted; decimals wins when both are given
                             * @enum {string}
                             */
                            exactNumbers?: "number" | "string";
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The name of the element around all rows
                             * @default rows
                             */
                            rootElement?: string;
                            /**
                             * @description The name of the element of each row
                             * @default row
                             */
                            rowElement?: string;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /** @description The heading on the first page (default: the report's name) */
                            title?: string;
                            /**
                             * @description Landscape pages, for reports with many columns
                             * @default false
                             */
                            landscape?: boolean;
                            /**
                             * @description At most this many rows; a note says when rows were left out
                             * @default 10000
                             */
                            rowCap?: number;
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description bookings: Buchungsstapel (category 21, format 13) for the period; accounts: Debitoren/Kreditoren master data (category 16, format 5), one line per personal account, its mapping by friendly keys or DATEV column names
                             * @default bookings
                             * @enum {string}
                             */
                            kind?: "bookings" | "accounts";
                            /** @description Beraternummer: the tax advisor’s consultant number (1001–9999999) */
                            consultantNumber: number;
                            /** @description Mandantennummer (1–99999) */
                            clientNumber: number;
                            /**
                             * @description The month the fiscal year starts in
                             * @default 1
                             */
                            fiscalYearStartMonth?: number;
                            /**
                             * @description Sachkontenlänge: digits of a G/L account (personal accounts have one more)
                             * @default 4
                             */
                            accountLength?: number;
                            /** @description Sachkontenrahmen, e.g. 03 (SKR03) or 04 (SKR04) */
                            chartOfAccounts?: string;
                            /**
                             * @description The batch’s currency (ISO 4217)
                             * @default EUR
                             */
                            currency?: string;
                            /** @description Bezeichnung of the batch, up to 30 characters (default: the report’s name) */
                            batchName?: string;
                            /** @description Diktatkürzel: up to two letters */
                            dictationCode?: string;
                            /**
                             * @description Herkunft: two characters naming the source
                             * @default FY
                             */
                            origin?: string;
                            /**
                             * @description Exportiert von: who made the file
                             * @default Ferry
                             */
                            exportedBy?: string;
                            /**
                             * @description Festschreibung: the advisor may not change the bookings after import
                             * @default false
                             */
                            locked?: boolean;
                            /**
                             * @description Text longer than its DATEV field: fail the run naming the row, or cut it with a warning
                             * @default fail
                             * @enum {string}
                             */
                            tooLong?: "fail" | "truncate";
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The columns of the file, in order, as the installation's import profile expects them
                             * @default [
                             *       "satzart",
                             *       "konto",
                             *       "gkonto",
                             *       "belegnr",
                             *       "belegdatum",
                             *       "buchsymbol",
                             *       "buchcode",
                             *       "prozent",
                             *       "steuercode",
                             *       "betrag",
                             *       "steuer",
                             *       "text"
                             *     ]
                             */
                            fields?: ("satzart" | "konto" | "gkonto" | "belegnr" | "belegdatum" | "buchsymbol" | "buchcode" | "prozent" | "steuercode" | "betrag" | "steuer" | "text" | "kost")[];
                            /**
                             * @description The file’s character set
                             * @default windows-1252
                             * @enum {string}
                             */
                            encoding?: "windows-1252" | "utf-8";
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        } | {
                            /**
                             * @description The national schema: NO, the Norwegian SAF-T Financial 1.30 (other variants are a new mapping)
                             * @default NO
                             * @enum {string}
                             */
                            variant?: "NO";
                            /** @description Company: the name of the company the ledger is of */
                            companyName: string;
                            /** @description Company: its registration number (Norway: the 9-digit organisation number) */
                            registrationNumber: string;
                            /** @description Company address: street */
                            streetName?: string;
                            /** @description Company address: city */
                            city: string;
                            /** @description Company address: postal code */
                            postalCode: string;
                            /**
                             * @description Company address: ISO 3166 country code
                             * @default NO
                             */
                            country?: string;
                            /** @description Contact person: first name */
                            contactFirstName: string;
                            /** @description Contact person: last name */
                            contactLastName: string;
                            /** @description Contact: e-mail address */
                            email?: string;
                            /** @description Contact: telephone number (SAF-T NO requires one) */
                            telephone: string;
                            /**
                             * @description DefaultCurrencyCode (ISO 4217)
                             * @default NOK
                             */
                            currency?: string;
                            /** @description The accounts’ grouping category when the report has no grouping_category column (e.g. RF-1167) */
                            groupingCategory?: string;
                            /**
                             * @description The journal the entries are in (JournalID)
                             * @default GL
                             */
                            journalId?: string;
                            /**
                             * @description The report's date parameter holding the period's first day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default from
                             */
                            periodFrom?: string;
                            /**
                             * @description The report's date parameter holding the period's last day (a schedule sets it with relative dates such as start_of_last_month)
                             * @default to
                             */
                            periodTo?: string;
                            /** @description The format's fields (GET /api/v1/formats lists them) filled from the report: field → source */
                            mapping?: {
                                [key: string]: {
                                    column: string;
                                } | {
                                    value: string | number;
                                } | {
                                    column: string;
                                    /** @description Subtracted: e.g. debit minus credit */
                                    minus: string;
                                };
                            };
                            /**
                             * @description Compress the file: gzip adds .gz, zip puts the file in a .zip archive
                             * @default none
                             * @enum {string}
                             */
                            compression?: "none" | "gzip" | "zip";
                            /** @description The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone */
                            fileName?: string;
                        };
                        /** @description Five fields: minute hour day-of-month month day-of-week. When both day fields are restricted, a day matching either fires (classic cron OR). */
                        cron?: string;
                        preset?: {
                            /** @enum {unknown} */
                            kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                            /** @description Local time HH:MM */
                            time?: string;
                            /** @description hourly: minute past the hour */
                            minute?: number;
                            /** @enum {unknown} */
                            weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                            /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                            day?: number | "last" | "last_business_day";
                            /** @description yearly: 1–12 */
                            month?: number;
                        };
                        /** @description IANA time zone, default UTC */
                        timezone?: string;
                        calendar?: {
                            /** @description ISO 3166-1 alpha-2, e.g. DE */
                            country: string;
                            /** @description e.g. BY for Bavaria */
                            region?: string;
                        } | null;
                        destinationIds?: string[];
                        /** @description Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set. */
                        recipientsSql?: string | null;
                        /** @description has_rows: only when the result has rows; changed: only when the rows differ from the last successful run */
                        condition?: "always" | "has_rows" | "changed";
                        missedPolicy?: "latest" | "all" | "skip";
                        missedCap?: number;
                        overlapPolicy?: "skip" | "queue_one";
                        active?: boolean;
                        notify?: {
                            emails?: string[];
                            /** @description 0 never pauses */
                            pauseAfterFailures?: number;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            reportId: string;
                            parameters: {
                                [key: string]: unknown;
                            };
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The timing as a cron expression; null when it is a preset no cron expression can say (last business day), described in `description` */
                            cron: string | null;
                            preset: {
                                /** @enum {unknown} */
                                kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                                /** @description Local time HH:MM */
                                time?: string;
                                /** @description hourly: minute past the hour */
                                minute?: number;
                                /** @enum {unknown} */
                                weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                                /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                                day?: number | "last" | "last_business_day";
                                /** @description yearly: 1–12 */
                                month?: number;
                            } | null;
                            timezone: string;
                            calendar: {
                                /** @description ISO 3166-1 alpha-2, e.g. DE */
                                country: string;
                                /** @description e.g. BY for Bavaria */
                                region?: string;
                            } | null;
                            /** @description The timing in words, ending with the zone */
                            description: string;
                            destinationIds: string[];
                            /** @description Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set. */
                            recipientsSql: string | null;
                            condition: "always" | "has_rows" | "changed";
                            missedPolicy: "latest" | "all" | "skip";
                            missedCap: number;
                            overlapPolicy: "skip" | "queue_one";
                            active: boolean;
                            /** @description Why a paused schedule is paused (by a user, or auto-paused after failures) */
                            pausedReason: string | null;
                            nextRunAt: string | null;
                            upcoming: string[];
                            pendingOccurrences: string[];
                            lastRun: {
                                id: string;
                                status: string;
                                scheduledFor: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                finishedAt: string | null;
                            } | null;
                            notify: {
                                emails: string[];
                                pauseAfterFailures: number;
                            };
                            /** @description Failed runs in a row since the last success */
                            consecutiveFailures: number;
                            ownerId: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/cron/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Describe a cron expression or preset and list its next occurrences
         * @description Each occurrence says whether the zone changes its UTC offset that day and, for a fixed time inside the spring-forward gap, which time was asked for. Warnings name days some months lack, runs closer than 15 minutes, and both day fields set (OR). The `description` is in the language the Accept-Language header asks for (English or German). Errors and warnings stay English.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description The language of `description`: German for de, de-DE, de-AT (any de-…), English otherwise. q-values are honoured, e.g. "de-DE,de;q=0.9,en;q=0.8". Other text, such as validation errors, stays English. */
                    "accept-language"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Five fields: minute hour day-of-month month day-of-week. When both day fields are restricted, a day matching either fires (classic cron OR). */
                        cron?: string;
                        preset?: {
                            /** @enum {unknown} */
                            kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                            /** @description Local time HH:MM */
                            time?: string;
                            /** @description hourly: minute past the hour */
                            minute?: number;
                            /** @enum {unknown} */
                            weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                            /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                            day?: number | "last" | "last_business_day";
                            /** @description yearly: 1–12 */
                            month?: number;
                        };
                        /** @description IANA time zone, default UTC */
                        timezone?: string;
                        calendar?: {
                            /** @description ISO 3166-1 alpha-2, e.g. DE */
                            country: string;
                            /** @description e.g. BY for Bavaria */
                            region?: string;
                        } | null;
                        /** Format: date-time */
                        from?: string;
                        count?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description The timing as a cron expression; null when it is a preset no cron expression can say (last business day), described in `description` */
                            cron: string | null;
                            description: string;
                            next: string[];
                            occurrences: {
                                /** Format: date-time */
                                at: string;
                                /** @description The zone's UTC offset changes on this local day (daylight saving time), e.g. +01:00 → +02:00 */
                                offsetChange: {
                                    from: string;
                                    to: string;
                                } | null;
                                /** @description The local time asked for, when it does not exist that day (spring-forward gap) and the run happens at `at` instead */
                                requestedTime: string | null;
                            }[];
                            warnings: {
                                code: "short_months" | "frequent" | "day_or_weekday";
                                message: string;
                                day?: number;
                                minutes?: number;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/calendars": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Business calendars: countries, or the regions of ?country=DE */
        get: {
            parameters: {
                query?: {
                    country?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                code: string;
                                name: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A schedule
         * @description The `description` is in the language the Accept-Language header asks for (English or German).
         */
        get: {
            parameters: {
                query?: never;
                header?: {
                    /** @description The language of `description`: German for de, de-DE, de-AT (any de-…), English otherwise. q-values are honoured, e.g. "de-DE,de;q=0.9,en;q=0.8". Other text, such as validation errors, stays English. */
                    "accept-language"?: string;
                };
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            reportId: string;
                            parameters: {
                                [key: string]: unknown;
                            };
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The timing as a cron expression; null when it is a preset no cron expression can say (last business day), described in `description` */
                            cron: string | null;
                            preset: {
                                /** @enum {unknown} */
                                kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                                /** @description Local time HH:MM */
                                time?: string;
                                /** @description hourly: minute past the hour */
                                minute?: number;
                                /** @enum {unknown} */
                                weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                                /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                                day?: number | "last" | "last_business_day";
                                /** @description yearly: 1–12 */
                                month?: number;
                            } | null;
                            timezone: string;
                            calendar: {
                                /** @description ISO 3166-1 alpha-2, e.g. DE */
                                country: string;
                                /** @description e.g. BY for Bavaria */
                                region?: string;
                            } | null;
                            /** @description The timing in words, ending with the zone */
                            description: string;
                            destinationIds: string[];
                            /** @description Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set. */
                            recipientsSql: string | null;
                            condition: "always" | "has_rows" | "changed";
                            missedPolicy: "latest" | "all" | "skip";
                            missedCap: number;
                            overlapPolicy: "skip" | "queue_one";
                            active: boolean;
                            /** @description Why a paused schedule is paused (by a user, or auto-paused after failures) */
                            pausedReason: string | null;
                            nextRunAt: string | null;
                            upcoming: string[];
                            pendingOccurrences: string[];
                            lastRun: {
                                id: string;
                                status: string;
                                scheduledFor: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                finishedAt: string | null;
                            } | null;
                            notify: {
                                emails: string[];
                                pauseAfterFailures: number;
                            };
                            /** @description Failed runs in a row since the last success */
                            consecutiveFailures: number;
                            ownerId: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete a schedule (its run history stays) */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /**
         * Change a schedule; a new timing takes effect from its next occurrence
         * @description The `description` is in the language the Accept-Language header asks for (English or German).
         */
        patch: {
            parameters: {
                query?: never;
                header?: {
                    /** @description The language of `description`: German for de, de-DE, de-AT (any de-…), English otherwise. q-values are honoured, e.g. "de-DE,de;q=0.9,en;q=0.8". Other text, such as validation errors, stays English. */
                    "accept-language"?: string;
                };
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name?: string;
                        /** Format: uuid */
                        reportId?: string;
                        parameters?: {
                            [key: string]: unknown;
                        };
                        format?: "csv" | "tsv" | "xlsx" | "json" | "ndjson" | "xml" | "pdf" | "datev" | "bmd" | "saft";
                        /** @description As for POST; checked against the format sent or, without one, the saved format */
                        formatOptions?: {
                            [key: string]: unknown;
                        };
                        /** @description Five fields: minute hour day-of-month month day-of-week. When both day fields are restricted, a day matching either fires (classic cron OR). */
                        cron?: string;
                        preset?: {
                            /** @enum {unknown} */
                            kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                            /** @description Local time HH:MM */
                            time?: string;
                            /** @description hourly: minute past the hour */
                            minute?: number;
                            /** @enum {unknown} */
                            weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                            /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                            day?: number | "last" | "last_business_day";
                            /** @description yearly: 1–12 */
                            month?: number;
                        };
                        /** @description IANA time zone, default UTC */
                        timezone?: string;
                        calendar?: {
                            /** @description ISO 3166-1 alpha-2, e.g. DE */
                            country: string;
                            /** @description e.g. BY for Bavaria */
                            region?: string;
                        } | null;
                        destinationIds?: string[];
                        /** @description Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set. */
                        recipientsSql?: string | null;
                        /** @description has_rows: only when the result has rows; changed: only when the rows differ from the last successful run */
                        condition?: "always" | "has_rows" | "changed";
                        missedPolicy?: "latest" | "all" | "skip";
                        missedCap?: number;
                        overlapPolicy?: "skip" | "queue_one";
                        active?: boolean;
                        notify?: {
                            emails?: string[];
                            /** @description 0 never pauses */
                            pauseAfterFailures?: number;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            reportId: string;
                            parameters: {
                                [key: string]: unknown;
                            };
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The timing as a cron expression; null when it is a preset no cron expression can say (last business day), described in `description` */
                            cron: string | null;
                            preset: {
                                /** @enum {unknown} */
                                kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                                /** @description Local time HH:MM */
                                time?: string;
                                /** @description hourly: minute past the hour */
                                minute?: number;
                                /** @enum {unknown} */
                                weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                                /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                                day?: number | "last" | "last_business_day";
                                /** @description yearly: 1–12 */
                                month?: number;
                            } | null;
                            timezone: string;
                            calendar: {
                                /** @description ISO 3166-1 alpha-2, e.g. DE */
                                country: string;
                                /** @description e.g. BY for Bavaria */
                                region?: string;
                            } | null;
                            /** @description The timing in words, ending with the zone */
                            description: string;
                            destinationIds: string[];
                            /** @description Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set. */
                            recipientsSql: string | null;
                            condition: "always" | "has_rows" | "changed";
                            missedPolicy: "latest" | "all" | "skip";
                            missedCap: number;
                            overlapPolicy: "skip" | "queue_one";
                            active: boolean;
                            /** @description Why a paused schedule is paused (by a user, or auto-paused after failures) */
                            pausedReason: string | null;
                            nextRunAt: string | null;
                            upcoming: string[];
                            pendingOccurrences: string[];
                            lastRun: {
                                id: string;
                                status: string;
                                scheduledFor: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                finishedAt: string | null;
                            } | null;
                            notify: {
                                emails: string[];
                                pauseAfterFailures: number;
                            };
                            /** @description Failed runs in a row since the last success */
                            consecutiveFailures: number;
                            ownerId: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/schedules/{id}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Pause: no runs are created until resumed
         * @description The `description` is in the language the Accept-Language header asks for (English or German).
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description The language of `description`: German for de, de-DE, de-AT (any de-…), English otherwise. q-values are honoured, e.g. "de-DE,de;q=0.9,en;q=0.8". Other text, such as validation errors, stays English. */
                    "accept-language"?: string;
                };
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            reportId: string;
                            parameters: {
                                [key: string]: unknown;
                            };
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The timing as a cron expression; null when it is a preset no cron expression can say (last business day), described in `description` */
                            cron: string | null;
                            preset: {
                                /** @enum {unknown} */
                                kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                                /** @description Local time HH:MM */
                                time?: string;
                                /** @description hourly: minute past the hour */
                                minute?: number;
                                /** @enum {unknown} */
                                weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                                /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                                day?: number | "last" | "last_business_day";
                                /** @description yearly: 1–12 */
                                month?: number;
                            } | null;
                            timezone: string;
                            calendar: {
                                /** @description ISO 3166-1 alpha-2, e.g. DE */
                                country: string;
                                /** @description e.g. BY for Bavaria */
                                region?: string;
                            } | null;
                            /** @description The timing in words, ending with the zone */
                            description: string;
                            destinationIds: string[];
                            /** @description Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set. */
                            recipientsSql: string | null;
                            condition: "always" | "has_rows" | "changed";
                            missedPolicy: "latest" | "all" | "skip";
                            missedCap: number;
                            overlapPolicy: "skip" | "queue_one";
                            active: boolean;
                            /** @description Why a paused schedule is paused (by a user, or auto-paused after failures) */
                            pausedReason: string | null;
                            nextRunAt: string | null;
                            upcoming: string[];
                            pendingOccurrences: string[];
                            lastRun: {
                                id: string;
                                status: string;
                                scheduledFor: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                finishedAt: string | null;
                            } | null;
                            notify: {
                                emails: string[];
                                pauseAfterFailures: number;
                            };
                            /** @description Failed runs in a row since the last success */
                            consecutiveFailures: number;
                            ownerId: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume: the next run is the first occurrence after now (missed ones are not made up)
         * @description The `description` is in the language the Accept-Language header asks for (English or German).
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description The language of `description`: German for de, de-DE, de-AT (any de-…), English otherwise. q-values are honoured, e.g. "de-DE,de;q=0.9,en;q=0.8". Other text, such as validation errors, stays English. */
                    "accept-language"?: string;
                };
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            reportId: string;
                            parameters: {
                                [key: string]: unknown;
                            };
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The timing as a cron expression; null when it is a preset no cron expression can say (last business day), described in `description` */
                            cron: string | null;
                            preset: {
                                /** @enum {unknown} */
                                kind: "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "quarterly" | "yearly";
                                /** @description Local time HH:MM */
                                time?: string;
                                /** @description hourly: minute past the hour */
                                minute?: number;
                                /** @enum {unknown} */
                                weekday?: "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
                                /** @description monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day" */
                                day?: number | "last" | "last_business_day";
                                /** @description yearly: 1–12 */
                                month?: number;
                            } | null;
                            timezone: string;
                            calendar: {
                                /** @description ISO 3166-1 alpha-2, e.g. DE */
                                country: string;
                                /** @description e.g. BY for Bavaria */
                                region?: string;
                            } | null;
                            /** @description The timing in words, ending with the zone */
                            description: string;
                            destinationIds: string[];
                            /** @description Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set. */
                            recipientsSql: string | null;
                            condition: "always" | "has_rows" | "changed";
                            missedPolicy: "latest" | "all" | "skip";
                            missedCap: number;
                            overlapPolicy: "skip" | "queue_one";
                            active: boolean;
                            /** @description Why a paused schedule is paused (by a user, or auto-paused after failures) */
                            pausedReason: string | null;
                            nextRunAt: string | null;
                            upcoming: string[];
                            pendingOccurrences: string[];
                            lastRun: {
                                id: string;
                                status: string;
                                scheduledFor: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                finishedAt: string | null;
                            } | null;
                            notify: {
                                emails: string[];
                                pauseAfterFailures: number;
                            };
                            /** @description Failed runs in a row since the last success */
                            consecutiveFailures: number;
                            ownerId: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}/run": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Run now (202 with the run; 409 while a run of this schedule is queued or running) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            /** @enum {string} */
                            status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped_missed" | "skipped_overlap" | "skipped_condition";
                            /**
                             * @description manual: started in the app by a user (createdBy); api: with an API key; schedule; cli
                             * @enum {string}
                             */
                            trigger: "manual" | "api" | "schedule" | "cli";
                            scheduleId: string | null;
                            scheduleName: string | null;
                            scheduleTimeZone: string | null;
                            createdBy: {
                                id: string;
                                name: string;
                            } | null;
                            reportId: string | null;
                            /** @description As it was when the run was created */
                            reportName: string;
                            connectionId: string | null;
                            format: string;
                            formatOptions: {
                                [key: string]: unknown;
                            };
                            /** @description The values given */
                            parameters: {
                                [key: string]: unknown;
                            };
                            /** @description Zone of relative dates and the file name */
                            timezone: string;
                            scheduledFor: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            startedAt: string | null;
                            finishedAt: string | null;
                            durationMs: number | null;
                            /** @description Attempts started so far */
                            attempts: number;
                            maxAttempts: number;
                            progress: {
                                rows: number;
                                bytes: number;
                                /** @description While running: the share of the rows of the last identical successful run (at most 99) */
                                percent: number | null;
                                expectedRows: number | null;
                            };
                            rowCount: number | null;
                            fileName: string | null;
                            fileSize: number | null;
                            contentType: string | null;
                            checksum: string | null;
                            /** @description What the file had to change in values its format cannot carry, counted per kind (e.g. characters XML 1.0 cannot hold, replaced by U+FFFD) */
                            warnings: {
                                code: string;
                                message: string;
                                count: number;
                            }[];
                            cancelRequested: boolean;
                            error: string | null;
                            errorCode: string | null;
                            errorStage: ("query" | "file") | null;
                            errorLocation: {
                                line: number;
                                column: number;
                            } | null;
                            /** @description Queued again after a failed attempt, waiting for the next one */
                            retrying: boolean;
                            lastFailure: {
                                /** @description The attempt that failed */
                                attempt: number;
                                error: string;
                                errorCode: string | null;
                                errorStage: ("query" | "file") | null;
                                errorLocation: {
                                    line: number;
                                    column: number;
                                } | null;
                            } | null;
                            /** @description While retrying (on GET /runs/{id}): when the next attempt starts */
                            nextAttemptAt: string | null;
                            /** @description Where the file goes once it is made */
                            destinationIds: string[];
                            burst: {
                                /** @description lead: the run that read the schedule's recipients query and made one run per recipient; recipient: one of those runs */
                                role: "lead" | "recipient";
                                leadRunId: string | null;
                                recipient: string | null;
                                recipients: number | null;
                            } | null;
                            /** @description Each destination of the run: status, attempts, timings and the peer’s answer */
                            deliveries: {
                                id: string;
                                destinationId: string | null;
                                destinationName: string;
                                destinationType: string;
                                /** @enum {string} */
                                status: "queued" | "sending" | "succeeded" | "failed";
                                attempts: number;
                                maxAttempts: number;
                                /** Format: date-time */
                                createdAt: string;
                                startedAt: string | null;
                                finishedAt: string | null;
                                /** @description While queued for a retry: when */
                                nextAttemptAt: string | null;
                                receipt: {
                                    summary: string;
                                    details: {
                                        [key: string]: unknown;
                                    };
                                } | null;
                                error: string | null;
                            }[];
                            /** @description "2 of 3 destinations delivered": a failed delivery never changes the run’s own status */
                            deliverySummary: {
                                total: number;
                                succeeded: number;
                                failed: number;
                                /** @description Queued or sending */
                                pending: number;
                            };
                            /** @description GET /runs/{id}: the file can be downloaded (not expired or deleted) */
                            hasFile?: boolean;
                            file?: {
                                state: "available" | "expired";
                                /** Format: date-time */
                                expiresAt: string;
                            } | null;
                            /** @description GET /runs/{id}: every attempt, first first */
                            attemptHistory?: {
                                number: number;
                                worker: string;
                                /** @enum {string} */
                                status: "running" | "succeeded" | "failed" | "lost" | "cancelled";
                                /** Format: date-time */
                                startedAt: string;
                                finishedAt: string | null;
                                error: string | null;
                            }[];
                            /** @description GET /runs/{id}: every download of the file */
                            downloads?: {
                                /** @enum {string} */
                                via: "api" | "link";
                                actorType: string | null;
                                actorId: string | null;
                                ip: string | null;
                                userAgent: string | null;
                                range: string | null;
                                /** Format: date-time */
                                at: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/destination-types": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The destination types with the JSON Schema of their settings and secrets */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                type: string;
                                settings: unknown;
                                secrets: unknown;
                                requiredSecrets: string[];
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/destinations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Destinations of your tenant, with the schedules that use each */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                /** @enum {string} */
                                type: "email" | "slack" | "webhook" | "s3" | "sftp" | "teams";
                                settings: {
                                    [key: string]: unknown;
                                };
                                /** @description The secret fields that are set (their values are never shown) */
                                secretsSet: string[];
                                /** @description The schedules that deliver here */
                                usedBy: {
                                    id: string;
                                    name: string;
                                }[];
                                lastTest: {
                                    /** Format: date-time */
                                    at: string;
                                    ok: boolean;
                                    message: string;
                                } | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                updatedAt: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create a destination: e-mail, Slack, webhook, S3 bucket, SFTP or Microsoft Teams */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        type: "email" | "slack" | "webhook" | "s3" | "sftp" | "teams";
                        /** @description The settings of the destination type (GET /api/v1/destination-types lists each type’s fields); shown to every reader */
                        settings: {
                            [key: string]: unknown;
                        };
                        /** @description Passwords, tokens, keys and signing secrets: write-only, sealed at rest, never shown again. On PATCH, a field given replaces the stored one, null removes it; fields left out are kept. */
                        secrets?: {
                            [key: string]: unknown;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            /** @enum {string} */
                            type: "email" | "slack" | "webhook" | "s3" | "sftp" | "teams";
                            settings: {
                                [key: string]: unknown;
                            };
                            /** @description The secret fields that are set (their values are never shown) */
                            secretsSet: string[];
                            /** @description The schedules that deliver here */
                            usedBy: {
                                id: string;
                                name: string;
                            }[];
                            lastTest: {
                                /** Format: date-time */
                                at: string;
                                ok: boolean;
                                message: string;
                            } | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/destinations/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A destination */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            /** @enum {string} */
                            type: "email" | "slack" | "webhook" | "s3" | "sftp" | "teams";
                            settings: {
                                [key: string]: unknown;
                            };
                            /** @description The secret fields that are set (their values are never shown) */
                            secretsSet: string[];
                            /** @description The schedules that deliver here */
                            usedBy: {
                                id: string;
                                name: string;
                            }[];
                            lastTest: {
                                /** Format: date-time */
                                at: string;
                                ok: boolean;
                                message: string;
                            } | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete a destination no schedule uses (its delivery history stays) */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /** Change a destination; pointing it somewhere new needs its secrets again */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name?: string;
                        /** @description The settings of the destination type (GET /api/v1/destination-types lists each type’s fields); shown to every reader */
                        settings?: {
                            [key: string]: unknown;
                        };
                        /** @description Passwords, tokens, keys and signing secrets: write-only, sealed at rest, never shown again. On PATCH, a field given replaces the stored one, null removes it; fields left out are kept. */
                        secrets?: {
                            [key: string]: unknown;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            /** @enum {string} */
                            type: "email" | "slack" | "webhook" | "s3" | "sftp" | "teams";
                            settings: {
                                [key: string]: unknown;
                            };
                            /** @description The secret fields that are set (their values are never shown) */
                            secretsSet: string[];
                            /** @description The schedules that deliver here */
                            usedBy: {
                                id: string;
                                name: string;
                            }[];
                            lastTest: {
                                /** Format: date-time */
                                at: string;
                                ok: boolean;
                                message: string;
                            } | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/destinations/{id}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a real test message or file; 200 with ok false and the reason when it fails */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Resource id (UUID) */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            ok: boolean;
                            /** @description What the peer answered, or why the test failed */
                            message: string;
                            details: {
                                [key: string]: unknown;
                            };
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/delivery-policy": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The e-mail domains and webhook hosts your tenant may deliver to */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description E-mail may go only to these domains (and their subdomains); empty: any domain */
                            allowedEmailDomains: string[];
                            /** @description Webhooks and Teams may go only to these hosts ("*.example.com" for subdomains); empty: any public host */
                            allowedWebhookHosts: string[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        /** Set the e-mail domains and webhook hosts your tenant may deliver to (empty lists: any) */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description E-mail may go only to these domains (and their subdomains); empty: any domain */
                        allowedEmailDomains: string[];
                        /** @description Webhooks and Teams may go only to these hosts ("*.example.com" for subdomains); empty: any public host */
                        allowedWebhookHosts: string[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description E-mail may go only to these domains (and their subdomains); empty: any domain */
                            allowedEmailDomains: string[];
                            /** @description Webhooks and Teams may go only to these hosts ("*.example.com" for subdomains); empty: any public host */
                            allowedWebhookHosts: string[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/deliveries/{deliveryId}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Deliver a run’s file again to one destination whose delivery failed (the file is not made again) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    deliveryId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            deliveryId: string;
                            status: string;
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description RFC 9457 problem details */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            type: string;
                            title: string;
                            status: number;
                            detail: string;
                            instance?: string;
                            requestId?: string;
                            errors?: {
                                path: string;
                                message: string;
                            }[];
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: never;
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
