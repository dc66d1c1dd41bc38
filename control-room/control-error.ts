// The control room's one error type: a status and a message that names the field and the rule, answered as
// `{error: "<field>: <rule>"}`.
export type ControlStatus = 400 | 401 | 403 | 404 | 409;

export class ControlError extends Error {
  override name = 'ControlError';
  constructor(
    readonly status: ControlStatus,
    message: string,
  ) {
    super(message);
  }
}
