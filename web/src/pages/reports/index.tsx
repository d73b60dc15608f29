import { lazy, Suspense } from 'react';
import { Route, Routes } from 'react-router';
import { FullPageLoader, NotFoundState } from '../../components/states';
import { ReportsList } from './ReportsList';

// The editor (CodeMirror, the builder, the export drawer) is a chunk of its own:
// the list, the page most visits start on, loads without it.
const NewReportPage = lazy(() => import('./ReportEditor').then((m) => ({ default: m.NewReportPage })));
const ReportPage = lazy(() => import('./ReportEditor').then((m) => ({ default: m.ReportPage })));

// The reports area: its pages and their addresses below /reports.
export default function Area() {
  return (
    <Suspense fallback={<FullPageLoader />}>
      <Routes>
        <Route index element={<ReportsList />} />
        <Route path="new" element={<NewReportPage />} />
        <Route path=":id" element={<ReportPage />} />
        <Route path="*" element={<NotFoundState />} />
      </Routes>
    </Suspense>
  );
}
