import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';

// The admin area: its pages and their addresses below /admin.
export default function Area() {
  return (
    <Routes>
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
