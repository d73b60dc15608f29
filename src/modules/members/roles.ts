// Roles map to permissions; routes check permissions, never role names.

export const roles = ['owner', 'admin', 'editor', 'viewer'] as const;
export type Role = (typeof roles)[number];

export const permissions = [
  'tenant:read',
  'members:read',
  'members:write',
  'api-keys:read',
  'api-keys:write',
  'audit:read',
  'connections:read',
  'connections:write',
  'reports:read',
  'reports:write',
  'destinations:read',
  'destinations:write',
  'schedules:read',
  'schedules:write',
  'runs:read',
  'runs:write',
  'runs:download',
  'stats:read',
] as const;
export type Permission = (typeof permissions)[number];

const viewer: Permission[] = [
  'tenant:read',
  'connections:read',
  'reports:read',
  'destinations:read',
  'schedules:read',
  'runs:read',
  'runs:download',
  'stats:read',
];
const editor: Permission[] = [...viewer, 'reports:write', 'schedules:write', 'runs:write'];
const admin: Permission[] = [
  ...editor,
  'members:read',
  'members:write',
  'api-keys:read',
  'api-keys:write',
  'audit:read',
  'connections:write',
  'destinations:write',
];

export const rolePermissions: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  owner: new Set(admin),
  admin: new Set(admin),
  editor: new Set(editor),
  viewer: new Set(viewer),
};

const rank: Record<Role, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };

/** Whether a holder of `role` may grant or act on `other` (no one can hand out more than they hold). */
export function roleCovers(role: Role, other: Role): boolean {
  return rank[role] >= rank[other];
}

/** "An admin", "A viewer": a role with its article, to start a sentence. */
export function aRole(role: Role): string {
  return `${/^[aeiou]/.test(role) ? 'An' : 'A'} ${role}`;
}
