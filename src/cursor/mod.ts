export { CursorStore, type CursorStoreOptions, type CursorValue, CursorWriteError } from "./cursor_store.ts";
