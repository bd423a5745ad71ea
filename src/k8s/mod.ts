export {
  ApiServerClient,
  type ApiServerClientOptions,
  ApiServerError,
  type ApiServerErrorReason,
  type ListPodsOptions,
  type PodList,
  type WatchEvent,
  type WatchPodsOptions,
} from "./apiserver_client.ts";
export {
  type ApiServerConnection,
  createHttpClient,
  IN_CLUSTER_API_SERVER,
  K8sConnectionError,
  type K8sMode,
  resolveConnection,
  type ResolveConnectionOptions,
} from "./connection.ts";
export {
  type JsonLineFailure,
  type JsonLineResult,
  JsonLinesDecoder,
  type JsonLinesDecoderOptions,
} from "./json_lines.ts";
export { type KubeconfigCredentials, KubeconfigError, loadKubeconfig } from "./kubeconfig.ts";
export {
  type ContainerInfo,
  type PodInfo,
  type PodInfoFailure,
  type PodInfoResult,
  type PodTrimOptions,
  toPodInfo,
  type WireContainer,
  type WirePod,
} from "./pod_info.ts";
export { EventInformer, type EventInformerOptions } from "./event_informer.ts";
export { PodInformer, type PodInformerOptions } from "./pod_informer.ts";
export { PodStore, type PodStoreOptions } from "./pod_store.ts";
export {
  FileTokenSource,
  type FileTokenSourceOptions,
  StaticTokenSource,
  TokenReadError,
  type TokenSource,
} from "./token_source.ts";
export {
  detectEventDisruption,
  detectPodDisruptions,
  type Disruption,
  DISRUPTION_EVENT_REASONS,
  type DisruptionEventName,
  type DisruptionSource,
  type EventDisruptionResult,
  type EventIgnoredReason,
} from "./pod_disruption.ts";
