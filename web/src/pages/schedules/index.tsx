import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';
import { EditorPage } from './EditorPage';
import { HistoryPage } from './HistoryPage';
import { ListPage } from './ListPage';

// The schedules area: its pages and their addresses below /schedules.
export default function Area() {
  return (
    <Routes>
      <Route index element={<ListPage />} />
      <Route path="new" element={<EditorPage />} />
      <Route path=":id" element={<EditorPage />} />
      <Route path=":id/history" element={<HistoryPage />} />
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
