import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';

// The connections area: its pages and their addresses below /connections.
export default function Area() {
  return (
    <Routes>
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
