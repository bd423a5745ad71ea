/**
 * The stitch stage: P..P F pieces of one file joined per stream as bytes, with a size cap and flushes.
 *
 * @module
 */

export {
  type FinalPiece,
  type FlushReason,
  joinChunks,
  type PartialPiece,
  type StitchedRecord,
  Stitcher,
  type StitcherOptions,
  utf8BoundaryAtOrBefore,
} from "./stitcher.ts";
