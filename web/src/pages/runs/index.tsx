import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';

// The runs area: its pages and their addresses below /runs.
export default function Area() {
  return (
    <Routes>
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
