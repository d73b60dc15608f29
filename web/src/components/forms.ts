import type { UseFormReturnType } from '@mantine/form';
import { ApiError } from '../api/client';
import type { MessageKey } from '../i18n';

/**
 * Puts the API's problem+json field errors next to the form's fields (paths such
 * as `name` or `parameters.0.type` are the form's own paths). Returns the
 * errors that match no field, for a message above the form.
 */
export function applyProblem<T extends Record<string, unknown>>(
  form: UseFormReturnType<T>,
  error: unknown,
  aliases: Record<string, string> = {},
): string[] {
  if (!(error instanceof ApiError)) return [];
  const values = form.getValues();
  const unmatched: string[] = [];
  const fieldErrors: Record<string, string> = {};
  for (const e of error.errors) {
    const path = aliases[e.path] ?? e.path;
    const top = path.split('.')[0] ?? path;
    if (top in values) fieldErrors[path] = e.message;
    else unmatched.push(`${e.path} ${e.message}`);
  }
  if (Object.keys(fieldErrors).length > 0) form.setErrors(fieldErrors);
  return unmatched;
}

/**
 * A Select's choices from every value of an API enum with its words, in the
 * record's order. Typed as Record<the API's union, MessageKey>, the record
 * fails to compile when the API adds or drops a value.
 */
export function choicesOf<V extends string>(
  labels: Record<V, MessageKey>,
  t: (key: MessageKey) => string,
): Array<{ value: V; label: string }> {
  return (Object.entries(labels) as Array<[V, MessageKey]>).map(([value, key]) => ({ value, label: t(key) }));
}
