/**
 * Test-only seams of a storage adapter. Production passes none, and then no adapter awaits
 * anything between deciding and writing.
 */
export interface StorageTestHooks {
  /**
   * Awaited just before the conditional write that consumes a login code or spends a refresh
   * token. A test uses it to line concurrent callers up at the one point where a
   * read-then-write store would let two of them win.
   */
  beforeConsume?: () => Promise<void>;
}
