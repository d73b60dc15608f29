import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';

// The workspace area: its pages and their addresses below /workspace.
export default function Area() {
  return (
    <Routes>
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
