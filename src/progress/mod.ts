export { Progress, type ProgressOptions } from "./progress.ts";
