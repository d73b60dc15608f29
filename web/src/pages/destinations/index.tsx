import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';
import { DestinationPage } from './DestinationPage';
import { DestinationsListPage } from './DestinationsListPage';

// The destinations area: its pages and their addresses below /destinations.
export default function Area() {
  return (
    <Routes>
      <Route index element={<DestinationsListPage />} />
      <Route path="new" element={<DestinationPage />} />
      <Route path=":id" element={<DestinationPage />} />
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
