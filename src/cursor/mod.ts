export { type CursorStoreOptions, type CursorValue, CursorStore, CursorWriteError } from "./cursor_store.ts";
