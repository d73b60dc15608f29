import { Route, Routes } from 'react-router';
import { NotFoundState } from '../../components/states';
import { NewReportPage, ReportPage } from './ReportEditor';
import { ReportsList } from './ReportsList';

// The reports area: its pages and their addresses below /reports.
export default function Area() {
  return (
    <Routes>
      <Route index element={<ReportsList />} />
      <Route path="new" element={<NewReportPage />} />
      <Route path=":id" element={<ReportPage />} />
      <Route path="*" element={<NotFoundState />} />
    </Routes>
  );
}
