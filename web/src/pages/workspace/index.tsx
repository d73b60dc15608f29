import { type ComponentType, lazy, Suspense } from 'react';
import { Navigate, Route, Routes } from 'react-router';
import { type Permission, useSession } from '../../app/session';
import { PermissionGate } from '../../components/PermissionGate';
import { NotFoundState, SectionLoader } from '../../components/states';
import { type MessageKey, useT } from '../../i18n';
import { ApiKeysPage } from './ApiKeysPage';
import { AuditPage } from './AuditPage';
import { MembersPage } from './MembersPage';

// The charts (recharts) load with the statistics page only.
const LazyStatsPage = lazy(() => import('./StatsPage').then((m) => ({ default: m.StatsPage })));
function StatsPage() {
  return (
    <Suspense fallback={<SectionLoader />}>
      <LazyStatsPage />
    </Suspense>
  );
}

// The workspace pages in the navigation's order, each with the permission that
// opens it: a caller without it gets the page's title and why it is refused.
const PAGES: Array<{ path: string; title: MessageKey; permission: Permission; Page: ComponentType }> = [
  { path: 'members', title: 'nav.members', permission: 'members:read', Page: MembersPage },
  { path: 'api-keys', title: 'nav.apiKeys', permission: 'api-keys:read', Page: ApiKeysPage },
  { path: 'audit', title: 'nav.audit', permission: 'audit:read', Page: AuditPage },
  { path: 'stats', title: 'nav.stats', permission: 'stats:read', Page: StatsPage },
];

// The workspace area: its pages and their addresses below /workspace.
export default function Area() {
  const t = useT();
  const { can } = useSession();
  // /workspace on its own: the first page of the area the caller may see (statistics says why none).
  const first = PAGES.find((p) => can(p.permission))?.path ?? 'stats';
  return (
    <Routes>
      <Route index element={<Navigate to={first} replace />} />
      {PAGES.map(({ path, title, permission, Page }) => (
        <Route
          key={path}
          path={path}
          element={
            <PermissionGate allowed={can(permission)} title={t(title)}>
              <Page />
            </PermissionGate>
          }
        />
      ))}
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
