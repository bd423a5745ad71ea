export { CursorStore, type CursorStoreOptions, type CursorValue, CursorWriteError } from "./cursor_store.ts";
export {
  acquireCursorLock,
  type CursorLock,
  CursorLockError,
  type CursorLockHolder,
  type CursorLockOptions,
  cursorLockPath,
} from "./cursor_lock.ts";
