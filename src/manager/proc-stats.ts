// What Linux says about the manager's listening socket and its children, read from /proc (and `ss` for
// Unix sockets, whose accept queue /proc/net/unix does not show):
// - the accept queue of a listening TCP socket is the rx_queue column of its LISTEN row in
//   /proc/net/tcp or tcp6 (the kernel puts sk_ack_backlog there for listeners), found by socket inode;
// - for a listening Unix socket, sock_diag's UNIX_DIAG_RQLEN carries the same number; `ss -lx` prints
//   it as Recv-Q, so we ask ss for the row of our path;
// - a process's CPU time is utime + stime (fields 14 and 15) of /proc/PID/stat.

import { readFileSync, readlinkSync } from 'node:fs';
import { execFile } from 'node:child_process';

/** The inode of the socket on this process's fd, or null. */
export function socketInode(fd: number): string | null {
  try {
    return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Connections waiting in a listening TCP socket's accept queue; null when not found. */
export function tcpAcceptQueue(inode: string): number | null {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:when retr uid timeout inode
      if (f[3] === '0A' && f[9] === inode) return parseInt(f[4]!.split(':')[1]!, 16);
    }
  }
  return null;
}

/** Connections waiting on a listening Unix socket (via `ss -lxn`); null when ss is missing or the row is. */
export function unixAcceptQueue(path: string): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('ss', ['-lxnH'], { timeout: 2000 }, (err, stdout) => {
      if (err) return resolve(null);
      for (const line of stdout.split('\n')) {
        const f = line.trim().split(/\s+/);
        // Netid State Recv-Q Send-Q Local-Address Port Peer ...
        if (f[4] === path) return resolve(Number(f[2]));
      }
      resolve(null);
    });
  });
}

/** utime + stime in clock ticks, or null when the process is gone. */
export function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}
