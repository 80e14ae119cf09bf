/** Errors of the admin API: a stable name, the HTTP status the controller answers with, and a message naming the parameter. */

export class AdminApiError extends Error {
  override readonly name: string;
  readonly status: number;

  constructor(status: 400 | 404, message: string) {
    super(message);
    this.status = status;
    this.name = status === 404 ? 'NotFoundError' : 'ValidationError';
  }
}

/** A 400 naming the parameter: `count: expected an integer from 1 to 1000; got "0"`. */
export function badParam(param: string, expected: string, got: unknown): AdminApiError {
  const shown = got === undefined ? 'nothing' : JSON.stringify(got);
  return new AdminApiError(400, `${param}: expected ${expected}; got ${shown && shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}.`);
}
