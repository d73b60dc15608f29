import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes } from 'react-router';
import { useSession } from '../../app/session';
import { NotFoundState, SectionLoader } from '../../components/states';
import { ApiKeysPage } from './ApiKeysPage';
import { AuditPage } from './AuditPage';
import { MembersPage } from './MembersPage';

// The charts (recharts) load with the statistics page only.
const StatsPage = lazy(() => import('./StatsPage').then((m) => ({ default: m.StatsPage })));

/** /workspace on its own: the first page of the area the caller may see. */
function First() {
  const { can } = useSession();
  const to = can('members:read')
    ? 'members'
    : can('api-keys:read')
      ? 'api-keys'
      : can('audit:read')
        ? 'audit'
        : 'stats';
  return <Navigate to={to} replace />;
}

// The workspace area: its pages and their addresses below /workspace.
export default function Area() {
  return (
    <Routes>
      <Route index element={<First />} />
      <Route path="members" element={<MembersPage />} />
      <Route path="api-keys" element={<ApiKeysPage />} />
      <Route path="audit" element={<AuditPage />} />
      <Route
        path="stats"
        element={
          <Suspense fallback={<SectionLoader />}>
            <StatsPage />
          </Suspense>
        }
      />
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
