// The REST API client: typed reads and writes; refusals carry the API's problems.
import type { Problem } from "./types";

export const API = "/api/v1";

/** A refused request, with each problem the API named (field and reason). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problems: Problem[],
  ) {
    super(problems.map((p) => `${p.loc.join(".")}: ${p.msg}`).join("; ") || `HTTP ${status}`);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(API + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await problemsOf(response));
  return (response.status === 204 ? undefined : await response.json()) as T;
}

async function problemsOf(response: Response): Promise<Problem[]> {
  try {
    const body = (await response.json()) as { detail?: unknown };
    if (Array.isArray(body.detail)) return body.detail as Problem[];
    if (typeof body.detail === "string") return [{ loc: [], msg: body.detail }];
  } catch {
    // not JSON: the status says it all
  }
  return [{ loc: [], msg: `${response.status} ${response.statusText}` }];
}

export const get = <T>(path: string): Promise<T> => request<T>("GET", path);
export const post = <T>(path: string, body: unknown): Promise<T> => request<T>("POST", path, body);
export const remove = (path: string): Promise<void> => request<void>("DELETE", path);
export const ref = encodeURIComponent;
