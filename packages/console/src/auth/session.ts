// A signed-in console: who, and a bearer token for the hub's API (fresh enough for the next call).
export interface Session {
  /** The signed-in person's name, shown in the header. */
  who: string;
  /** Their object id, when known: the audit lists mark their own changes. */
  oid?: string;
  token(): Promise<string>;
  /** Absent for the development identity (there is nothing to sign out of). */
  signOut?(): Promise<void>;
}
