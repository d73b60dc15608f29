import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';

// The schedules area: its pages and their addresses below /schedules.
export default function Area() {
  return (
    <Routes>
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
