import type { MemberRow } from './repo.ts';
import type { Role } from './roles.ts';

export interface MemberView {
  id: string;
  email: string;
  name: string;
  role: Role;
  hasPassword: boolean;
  joinedAt: string;
}

export function presentMember(row: MemberRow): MemberView {
  return {
    id: row.user_id,
    email: row.email,
    name: row.name,
    role: row.role,
    hasPassword: row.has_password,
    joinedAt: row.created_at.toISOString(),
  };
}
