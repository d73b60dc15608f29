import type { ReactNode } from 'react';
import { PageHeader } from './PageHeader';
import { ReadOnlyNotice } from './ReadOnlyNotice';

/**
 * A page the signed-in user's role may not open: its title (and crumbs) and why
 * it is refused, in place of its content. The page works out `allowed` itself
 * (a permission from useCan, instance admin, or write access for a new item), so
 * the refusal reads the same everywhere and the content's hooks and requests
 * run only for someone who may see it.
 */
export function PermissionGate({
  allowed,
  title,
  crumbs,
  children,
}: {
  allowed: boolean;
  title: string;
  crumbs?: Array<{ label: string; to: string }>;
  children: ReactNode;
}) {
  if (allowed) return children;
  return (
    <>
      <PageHeader title={title} crumbs={crumbs} />
      <ReadOnlyNotice forbidden />
    </>
  );
}
