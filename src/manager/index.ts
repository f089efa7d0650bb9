export { Manager, type ManagerOptions, type ManagedProcess, type ExitInfo } from './manager.js';
export { initialEnv, InitialEnvError } from './initial-env.js';
export { ListenError } from './listen-socket.js';
