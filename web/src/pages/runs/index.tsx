import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';
import { RunPage } from './RunPage';
import { RunsListPage } from './RunsListPage';

// The runs area: its pages and their addresses below /runs.
export default function Area() {
  return (
    <Routes>
      <Route index element={<RunsListPage />} />
      <Route path=":id" element={<RunPage />} />
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
