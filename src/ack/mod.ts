export { AckTracker } from "./ack_tracker.ts";
