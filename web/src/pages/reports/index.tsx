import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';

// The reports area: its pages and their addresses below /reports.
export default function Area() {
  return (
    <Routes>
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
