/** The admin API's answers, as the console reads them (see the server's /openapi.json). */
export interface Tenant {
  tenant_key: string;
  name: string;
}
export interface User {
  tenant_key: string;
  user_id: string;
  union_id: string;
  name: string;
  en_name: string;
  email: string | null;
  mobile: string | null;
  status: "active" | "deactivated";
  department_ids: string[];
}
export type Visibility = "all" | { users: string[]; departments: string[] };
export interface App {
  app_id: string;
  name: string;
  type: "self_built" | "store";
  scopes: string[];
  installations: Array<{ tenant_key: string; visibility: Visibility }>;
}
export interface Session {
  session_id: string;
  app_id: string;
  tenant_key: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
}
export interface AuditEvent {
  id: number;
  at: number;
  type: string;
  app_id: string | null;
  tenant_key: string | null;
  user_id: string | null;
  session_id: string | null;
}
export interface SessionDetail extends Session {
  live: boolean;
  family: { rotations: number; reused: boolean; revoked: boolean; events: AuditEvent[]; complete: boolean };
}
export interface Overview {
  tenants: number;
  users: number;
  apps: number;
  live_sessions: number;
  live_sessions_capped: boolean;
  recent_logins: AuditEvent[];
}

/** Scopes the server understands (user_info fields they unlock). */
export const KNOWN_SCOPES = [
  "contact:user.employee_id:readonly",
  "contact:user.email:readonly",
  "contact:user.phone:readonly",
];

export const EVENT_TYPES = [
  "login_code.consumed",
  "login_code.reused",
  "login_code.rejected_visibility",
  "refresh_token.rotated",
  "refresh_token.reused",
  "grant.revoked",
];
