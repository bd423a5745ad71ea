export {
  netHostOfUrl,
  PermissionCheckError,
  permissionMessage,
  type PermissionTarget,
  requirePermissions,
} from "./permission_check.ts";
