// A mistake the user can fix (bad file, bad flag, bad checkpoint). The CLI prints its
// message as one line on stderr and exits non-zero; anything else is a bug and keeps its stack.
export class UserError extends Error {
  override readonly name = 'UserError';
}
