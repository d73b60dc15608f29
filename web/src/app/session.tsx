import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { ApiError, api, type ResponseOf, SESSION_ENDED_EVENT, unwrap } from '../api/client';
import { FullPageError, FullPageLoader } from '../components/states';

export type Me = ResponseOf<'/api/v1/me', 'get'>;
export type Permission =
  | 'tenant:read'
  | 'members:read'
  | 'members:write'
  | 'api-keys:read'
  | 'api-keys:write'
  | 'audit:read'
  | 'connections:read'
  | 'connections:write'
  | 'reports:read'
  | 'reports:write'
  | 'destinations:read'
  | 'destinations:write'
  | 'schedules:read'
  | 'schedules:write'
  | 'runs:read'
  | 'runs:write'
  | 'runs:download'
  | 'stats:read';

export const ME_KEY = ['me'] as const;

interface Session {
  me: Me;
  can(permission: Permission): boolean;
}

const SessionContext = createContext<Session | null>(null);

/** The signed-in user, tenant, role and permissions. Only inside <RequireSession>. */
export function useSession(): Session {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside RequireSession');
  return value;
}

/** Whether the signed-in user holds a permission (routes check permissions, never role names). */
export function useCan(permission: Permission): boolean {
  return useSession().can(permission);
}

/** Renders children for a signed-in user; otherwise goes to setup (first run) or sign-in. */
export function RequireSession({ children }: { children: ReactNode }) {
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useQuery({
    queryKey: ME_KEY,
    queryFn: () => unwrap(api.GET('/api/v1/me')),
    retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
    staleTime: 60_000,
  });
  const unauthenticated = me.error instanceof ApiError && me.error.status === 401;
  const setup = useQuery({
    queryKey: ['setup'],
    queryFn: async () => {
      const { response } = await api.GET('/api/v1/setup');
      return response.status === 200;
    },
    enabled: unauthenticated,
  });

  useEffect(() => {
    const ended = () => {
      queryClient.clear();
      const next = `${window.location.pathname}${window.location.search}`;
      navigate(`/login?expired=1&next=${encodeURIComponent(next)}`, { replace: true });
    };
    window.addEventListener(SESSION_ENDED_EVENT, ended);
    return () => window.removeEventListener(SESSION_ENDED_EVENT, ended);
  }, [navigate, queryClient]);

  if (unauthenticated) {
    if (setup.isPending) return <FullPageLoader />;
    if (setup.data) return <Navigate to="/setup" replace />;
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  if (me.isPending) return <FullPageLoader />;
  if (me.isError) return <FullPageError error={me.error} onRetry={() => me.refetch()} />;
  const permissions = new Set(me.data.permissions);
  return (
    <SessionContext.Provider value={{ me: me.data, can: (p) => permissions.has(p) }}>
      {children}
    </SessionContext.Provider>
  );
}
