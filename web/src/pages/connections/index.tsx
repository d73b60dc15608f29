import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';
import { ConnectionPage } from './ConnectionPage';
import { ConnectionsListPage } from './ConnectionsListPage';

// The connections area: its pages and their addresses below /connections.
export default function Area() {
  return (
    <Routes>
      <Route index element={<ConnectionsListPage />} />
      <Route path="new" element={<ConnectionPage />} />
      <Route path=":id" element={<ConnectionPage />} />
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
