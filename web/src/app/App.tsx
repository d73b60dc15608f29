import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import {
  type CSSVariablesResolver,
  createTheme,
  Drawer,
  MantineProvider,
  Modal,
  mergeThemeOverrides,
  Notification,
} from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { lazy, type ReactNode, Suspense, useMemo } from 'react';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { ApiError } from '../api/client';
import { FullPageLoader, NotFoundState } from '../components/states';
import { I18nProvider, useT } from '../i18n';
import { LoginPage } from '../pages/auth/LoginPage';
import { SetupPage } from '../pages/auth/SetupPage';
import { Layout } from './Layout';
import { RequireSession } from './session';

// Each area of the app is its own chunk, loaded when first visited.
const ReportsArea = lazy(() => import('../pages/reports'));
const SchedulesArea = lazy(() => import('../pages/schedules'));
const RunsArea = lazy(() => import('../pages/runs'));
const ConnectionsArea = lazy(() => import('../pages/connections'));
const DestinationsArea = lazy(() => import('../pages/destinations'));
const WorkspaceArea = lazy(() => import('../pages/workspace'));
const AdminArea = lazy(() => import('../pages/admin'));

const theme = createTheme({
  primaryColor: 'blue',
  // Shade 8 keeps white text on filled buttons above WCAG AA contrast (4.5:1) in both schemes.
  primaryShade: { light: 8, dark: 8 },
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
  defaultRadius: 'sm',
});

// Dimmed and error text darker (light) and lighter (dark) than Mantine's default, for AA contrast (4.5:1).
const resolver: CSSVariablesResolver = (t) => ({
  variables: {},
  light: { '--mantine-color-dimmed': t.colors.gray[7]!, '--mantine-color-error': t.colors.red[9]! },
  dark: { '--mantine-color-dimmed': t.colors.dark[1]!, '--mantine-color-error': t.colors.red[5]! },
});

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx does not get better by asking again; a network error or 5xx might.
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      refetchOnWindowFocus: true,
      staleTime: 10_000,
    },
  },
});
// A new app language: fetch again what the server wrote in the old one (schedule descriptions).
window.addEventListener('ferry:language', () => void queryClient.invalidateQueries());

/** Mantine with the app's theme; close buttons of dialogs and notices are named in the user's language. */
function ThemeProvider({ children }: { children: ReactNode }) {
  const t = useT();
  const localized = useMemo(() => {
    const close = { closeButtonProps: { 'aria-label': t('action.close') } };
    return mergeThemeOverrides(
      theme,
      createTheme({
        components: {
          Modal: Modal.extend({ defaultProps: close }),
          Drawer: Drawer.extend({ defaultProps: close }),
          Notification: Notification.extend({ defaultProps: close }),
        },
      }),
    );
  }, [t]);
  return (
    <MantineProvider theme={localized} defaultColorScheme="auto" cssVariablesResolver={resolver}>
      {children}
    </MantineProvider>
  );
}

export function App() {
  return (
    <I18nProvider>
      <ThemeProvider>
        <Notifications position="top-right" />
        <QueryClientProvider client={queryClient}>
          <BrowserRouter>
            <Routes>
              <Route path="/setup" element={<SetupPage />} />
              <Route path="/login" element={<LoginPage />} />
              <Route
                path="*"
                element={
                  <RequireSession>
                    <Layout>
                      <Suspense fallback={<FullPageLoader />}>
                        <Routes>
                          <Route index element={<Navigate to="/reports" replace />} />
                          <Route path="reports/*" element={<ReportsArea />} />
                          <Route path="schedules/*" element={<SchedulesArea />} />
                          <Route path="runs/*" element={<RunsArea />} />
                          <Route path="connections/*" element={<ConnectionsArea />} />
                          <Route path="destinations/*" element={<DestinationsArea />} />
                          <Route path="workspace/*" element={<WorkspaceArea />} />
                          <Route path="admin/*" element={<AdminArea />} />
                          <Route path="*" element={<NotFoundState />} />
                        </Routes>
                      </Suspense>
                    </Layout>
                  </RequireSession>
                }
              />
            </Routes>
          </BrowserRouter>
        </QueryClientProvider>
      </ThemeProvider>
    </I18nProvider>
  );
}
