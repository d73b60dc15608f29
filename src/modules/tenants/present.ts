import type { TenantRow } from './repo.ts';

export interface TenantView {
  id: string;
  name: string;
  slug: string;
  memberCount?: number;
  createdAt: string;
}

export function presentTenant(row: TenantRow): TenantView {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    ...(row.member_count === undefined ? {} : { memberCount: row.member_count }),
    createdAt: row.created_at.toISOString(),
  };
}
