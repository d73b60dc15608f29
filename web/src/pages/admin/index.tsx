import { Navigate, Route, Routes } from 'react-router';
import { useSession } from '../../app/session';
import { PermissionGate } from '../../components/PermissionGate';
import { NotFoundState } from '../../components/states';
import { useT } from '../../i18n';
import { TenantsPage } from './TenantsPage';

// The admin area: its pages and their addresses below /admin, for instance admins only.
export default function Area() {
  const t = useT();
  const { me } = useSession();
  return (
    <Routes>
      <Route index element={<Navigate to="tenants" replace />} />
      <Route
        path="tenants"
        element={
          <PermissionGate allowed={me.instanceAdmin} title={t('nav.tenants')}>
            <TenantsPage />
          </PermissionGate>
        }
      />
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
