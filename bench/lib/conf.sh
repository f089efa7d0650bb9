# Config text the bench scripts share (sourced): php-fpm pools and nginx's opening lines, every path
# under the script's scratch directory, every address on 127.0.0.1.

# php_fpm_conf DIR NAME:PORT:CHILDREN[:BACKLOG]...   prints a php-fpm config, one static pool per argument
php_fpm_conf() {
  local dir=$1 pool name port children backlog
  shift
  printf '[global]\npid = %s/php-fpm.pid\nerror_log = %s/php-fpm.log\ndaemonize = no\n' "$dir" "$dir"
  for pool in "$@"; do
    IFS=: read -r name port children backlog <<<"$pool"
    printf '[%s]\nlisten = 127.0.0.1:%s\n' "$name" "$port"
    if [ -n "$backlog" ]; then printf 'listen.backlog = %s\n' "$backlog"; fi
    printf 'pm = static\npm.max_children = %s\nclear_env = yes\n' "$children"
  done
}

# nginx_prelude DIR WORKER_CONNECTIONS KEEPALIVE_REQUESTS   prints nginx.conf up to the inside of http {
# (one worker, foreground, pid, logs and temp paths in DIR); the caller adds the rest and the closing }
nginx_prelude() {
  cat <<CONF
worker_processes 1; daemon off; pid $1/nginx.pid; error_log $1/nginx-error.log warn;
events { worker_connections $2; }
http {
  access_log off; client_body_temp_path $1/client_body; proxy_temp_path $1/proxy; fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi; keepalive_requests $3;
CONF
}
