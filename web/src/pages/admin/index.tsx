import { Navigate, Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';
import { TenantsPage } from './TenantsPage';

// The admin area: its pages and their addresses below /admin.
export default function Area() {
  return (
    <Routes>
      <Route index element={<Navigate to="tenants" replace />} />
      <Route path="tenants" element={<TenantsPage />} />
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
