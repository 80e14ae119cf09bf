/** Errors of the admin API: a stable name, the HTTP status the controller answers with, and a message naming the parameter. */

/** The machine-readable part of an admin API error (its `details`), for the admin panel. */
export interface AdminErrorDetails {
  /**
   * 409 from delete by pattern: the protected families the pattern could reach. `named`: the
   * pattern starts with the family's prefix, so sending `confirmProtected` with that prefix
   * deletes them; otherwise the pattern must be narrowed first.
   */
  protected?: { family: string; prefix: string; named: boolean }[];
}

export class AdminApiError extends Error {
  override readonly name: string;
  readonly status: number;
  /** Sent as the error's `details` (machine-readable facts for the admin panel). */
  readonly details: AdminErrorDetails;

  constructor(status: 400 | 404 | 409, message: string, details: AdminErrorDetails = {}) {
    super(message);
    this.status = status;
    this.name = status === 404 ? 'NotFoundError' : status === 409 ? 'ConflictError' : 'ValidationError';
    this.details = details;
  }
}

/** A 400 naming the parameter: `count: expected an integer from 1 to 1000; got "0"`. */
export function badParam(param: string, expected: string, got: unknown): AdminApiError {
  const shown = got === undefined ? 'nothing' : JSON.stringify(got);
  return new AdminApiError(400, `${param}: expected ${expected}; got ${shown && shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}.`);
}
