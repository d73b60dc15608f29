import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { ApiError, api, type BodyOf, type ResponseOf, unwrap } from '../../api/client';

// Server state of the schedules pages.

export type Schedule = ResponseOf<'/api/v1/schedules/{id}', 'get'>;
export type ScheduleBody = BodyOf<'/api/v1/schedules', 'post'>;
export type PreviewBody = BodyOf<'/api/v1/cron/preview', 'post'>;
export type Preview = ResponseOf<'/api/v1/cron/preview', 'post'>;
export type Run = ResponseOf<'/api/v1/runs', 'get'>['items'][number];
export type ReportItem = ResponseOf<'/api/v1/reports', 'get'>['items'][number];

export const SCHEDULES_KEY = ['schedules'] as const;

/** A schedule paused by the scheduler after too many failed runs in a row (not by a person). */
export const isAutoPaused = (s: Schedule) =>
  !s.active && s.notify.pauseAfterFailures > 0 && s.consecutiveFailures >= s.notify.pauseAfterFailures;

export function useSchedules() {
  return useQuery({
    queryKey: [...SCHEDULES_KEY, 'list'],
    queryFn: async () => {
      // Schedules per workspace are few; all pages are read so the list needs no paging.
      const items: Schedule[] = [];
      let cursor: string | undefined;
      do {
        const page = await unwrap(
          api.GET('/api/v1/schedules', { params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } } }),
        );
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return items;
    },
  });
}

export function useSchedule(id: string | undefined) {
  return useQuery({
    queryKey: [...SCHEDULES_KEY, 'one', id],
    queryFn: () => unwrap(api.GET('/api/v1/schedules/{id}', { params: { path: { id: id! } } })),
    enabled: id !== undefined,
  });
}

export function useReportList(enabled = true) {
  return useQuery({
    queryKey: ['reports', 'all'],
    queryFn: async () => {
      const items: ReportItem[] = [];
      let cursor: string | undefined;
      do {
        const page = await unwrap(
          api.GET('/api/v1/reports', { params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } } }),
        );
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return items;
    },
    enabled,
  });
}

export function useCalendars(country?: string) {
  return useQuery({
    queryKey: ['calendars', country ?? ''],
    queryFn: () =>
      unwrap(api.GET('/api/v1/calendars', { params: { query: country ? { country } : {} } })).then(
        (r) => r.items,
      ),
    staleTime: Number.POSITIVE_INFINITY,
  });
}

/** The last answer of the cron preview (a description with next runs, or the error naming the field). */
export interface PreviewState {
  data: Preview | undefined;
  error: unknown;
  /** A newer answer is on its way. */
  fetching: boolean;
}

/**
 * The description, next runs and warnings of a timing. The last settled answer
 * (success or error) stays shown while the next one loads, so the text never
 * jumps back to an older timing.
 */
export function useCronPreview(body: PreviewBody | null): PreviewState {
  const query = useQuery({
    queryKey: ['cron-preview', body],
    queryFn: ({ signal }) => unwrap(api.POST('/api/v1/cron/preview', { body: body!, signal })),
    enabled: body !== null,
    retry: false,
    staleTime: 60_000,
  });
  const [settled, setSettled] = useState<{ data: Preview | undefined; error: unknown }>({
    data: undefined,
    error: null,
  });
  useEffect(() => {
    if (query.isError) setSettled({ data: undefined, error: query.error });
    else if (query.isSuccess) setSettled({ data: query.data, error: null });
  }, [query.isError, query.error, query.isSuccess, query.data]);
  return { ...settled, fetching: query.isFetching };
}

export function useScheduleRuns(scheduleId: string, cursor: string | undefined) {
  return useQuery({
    queryKey: ['runs', 'schedule', scheduleId, cursor ?? ''],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/runs', {
          params: { query: { scheduleId, limit: 50, ...(cursor ? { cursor } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

/** Pause, resume, run now, delete: each refreshes the schedules it touched. */
export function useScheduleActions() {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: SCHEDULES_KEY });
  const setActive = useMutation({
    mutationFn: ({ id, active }: { id: string; active: boolean }) =>
      active
        ? unwrap(api.POST('/api/v1/schedules/{id}/resume', { params: { path: { id } } }))
        : unwrap(api.POST('/api/v1/schedules/{id}/pause', { params: { path: { id } } })),
    onSettled: refresh,
  });
  const runNow = useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/api/v1/schedules/{id}/run', { params: { path: { id } } })),
    onSettled: () => {
      refresh();
      queryClient.invalidateQueries({ queryKey: ['runs'] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/api/v1/schedules/{id}', { params: { path: { id } } })),
    onSuccess: refresh,
  });
  return { setActive, runNow, remove };
}

/** 409 on run now: a run of the schedule is still queued or running. */
export const isBusy = (error: unknown) => error instanceof ApiError && error.status === 409;
