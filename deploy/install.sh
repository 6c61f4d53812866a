#!/usr/bin/env bash
# Installs Flotilla on a bare Debian host with systemd (see deploy/README.md).
#
#   deploy/install.sh control-plane [--database local|embedded|external] [--jdbc-url URL --db-user USER
#                                    --db-password PASSWORD] [--app DIR] [OPTIONS]
#   deploy/install.sh node-agent --control-plane URL --join-token TOKEN [--kubelet] [--app DIR] [OPTIONS]
#   deploy/install.sh tuning [OPTIONS]
#
# control-plane  the service under /opt/flotilla/control-plane, user "flotilla", unit flotilla-control-plane.
#                --database local (default): Debian's PostgreSQL on this host, a role and database "flotilla" with a
#                generated password; embedded: the service starts its own PostgreSQL in /var/lib/flotilla;
#                external: the JDBC URL, user and password given. Admin and join tokens are generated into
#                /etc/flotilla/control-plane.env (mode 600) unless that file already has them.
# node-agent     the agent under /opt/flotilla/node-agent (root), unit flotilla-node-agent, plus the host tuning;
#                --kubelet also installs the kubelet drop-in that makes Flotilla the node's CRI runtime.
# tuning         only the sysctl, module and limits files (applied unless --root is given).
#
# OPTIONS: --app DIR      the service's quarkus-app directory (default: MODULE/target/quarkus-app of this checkout,
#                         built with Maven when missing)
#          --java-home D  JDK 25 or newer to run the services (default: $JAVA_HOME or Temurin 25)
#          --root DIR     install into DIR instead of / (staging, packaging, tests): nothing is started or applied
#          --no-start     install and enable, but do not start
set -euo pipefail

FLOTILLA_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$FLOTILLA_HOME/deploy"

die() { echo "install: $*" >&2; exit 1; }
log() { echo "install: $*" >&2; }

component="${1:-}"
[[ "$component" =~ ^(control-plane|node-agent|tuning)$ ]] || die "usage: install.sh control-plane|node-agent|tuning [options] (see the header of $0)"
shift

root=""
app=""
java_home="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
start=true
database=local
jdbc_url="" db_user="" db_password=""
control_plane_url="" join_token=""
kubelet=false
while (($#)); do
  case "$1" in
    --root) root="$(realpath -m "$2")"; shift 2 ;;
    --app) app="$2"; shift 2 ;;
    --java-home) java_home="$2"; shift 2 ;;
    --no-start) start=false; shift ;;
    --database) database="$2"; shift 2 ;;
    --jdbc-url) jdbc_url="$2"; shift 2 ;;
    --db-user) db_user="$2"; shift 2 ;;
    --db-password) db_password="$2"; shift 2 ;;
    --control-plane) control_plane_url="$2"; shift 2 ;;
    --join-token) join_token="$2"; shift 2 ;;
    --kubelet) kubelet=true; shift ;;
    *) die "unknown option '$1' for $component" ;;
  esac
done
live=true
[[ -n "$root" ]] && live=false
[[ $(id -u) -eq 0 || -n "$root" ]] || die "run as root (it writes /etc, /opt and systemd units), or stage with --root DIR"

token() { openssl rand -hex 24; }

# Replaces or appends KEY=VALUE in an env file, keeping everything else the operator wrote.
set_env() {
  local file="$1" key="$2" value="$3"
  if grep -q "^$key=" "$file" 2>/dev/null; then
    sed -i "s|^$key=.*|$key=$value|" "$file"
  else
    echo "$key=$value" >> "$file"
  fi
}
has_env() { grep -q "^$1=." "$2" 2>/dev/null; }

install_tuning() {
  install -D -m 644 "$DEPLOY/sysctl/90-flotilla-node.conf" "$root/etc/sysctl.d/90-flotilla-node.conf"
  install -D -m 644 "$DEPLOY/modules-load/flotilla.conf" "$root/etc/modules-load.d/flotilla.conf"
  install -D -m 644 "$DEPLOY/limits/90-flotilla.conf" "$root/etc/security/limits.d/90-flotilla.conf"
  if $live; then
    while read -r module; do modprobe "$module" || log "module $module could not be loaded (built in, or missing)"; done \
      < <(grep -v '^#' "$DEPLOY/modules-load/flotilla.conf" | grep .)
    sysctl -q -p /etc/sysctl.d/90-flotilla-node.conf
    log "host tuning applied (/etc/sysctl.d/90-flotilla-node.conf, /etc/modules-load.d/flotilla.conf)"
  fi
}

# Copies a service's quarkus-app directory to /opt/flotilla/MODULE, building it first when needed.
install_app() {
  local module="$1"
  local source="${app:-$FLOTILLA_HOME/$module/target/quarkus-app}"
  if [[ ! -f "$source/quarkus-run.jar" ]]; then
    [[ -z "$app" && -f "$FLOTILLA_HOME/$module/pom.xml" ]] || die "no quarkus-run.jar in $source (give --app DIR)"
    log "building $module"
    (cd "$FLOTILLA_HOME" && JAVA_HOME="$java_home" mvn -B -q -pl "$module" -am package -DskipTests)
  fi
  rm -rf "$root/opt/flotilla/$module.new"
  mkdir -p "$root/opt/flotilla"
  cp -r "$source" "$root/opt/flotilla/$module.new"
  [[ -f "$FLOTILLA_HOME/$module/README.md" ]] && cp "$FLOTILLA_HOME/$module/README.md" "$root/opt/flotilla/$module.new/"
  rm -rf "$root/opt/flotilla/$module" && mv "$root/opt/flotilla/$module.new" "$root/opt/flotilla/$module"
  [[ -x "$java_home/bin/java" ]] || die "no JDK at $java_home (give --java-home; Temurin 25 or newer)"
  ln -sfn "$java_home" "$root/opt/flotilla/jdk"
}

install_unit() {
  install -D -m 644 "$DEPLOY/systemd/$1.service" "$root/etc/systemd/system/$1.service"
  if $live; then
    systemctl daemon-reload
    systemctl enable "$1.service" >/dev/null
    if $start; then
      systemctl restart "$1.service"
      log "$1 started: journalctl -u $1 -f"
    fi
  fi
}

install_control_plane() {
  local env="$root/etc/flotilla/control-plane.env"
  install -d -m 755 "$root/etc/flotilla"
  [[ -f "$env" ]] || install -m 600 /dev/null "$env"
  has_env JAVA_OPTS "$env" || set_env "$env" JAVA_OPTS "-XX:MaxRAMPercentage=50"
  has_env FLOTILLA_AUTH_ADMIN_TOKENS "$env" || set_env "$env" FLOTILLA_AUTH_ADMIN_TOKENS "$(token)"
  has_env FLOTILLA_AUTH_JOIN_TOKEN "$env" || set_env "$env" FLOTILLA_AUTH_JOIN_TOKEN "$(token)"
  case "$database" in
    local)
      if ! has_env QUARKUS_DATASOURCE_PASSWORD "$env"; then
        local password
        password=$(token)
        if $live; then
          command -v psql >/dev/null || { log "installing Debian's PostgreSQL"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
          systemctl enable --now postgresql >/dev/null
          runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -v pw="$password" <<'SQL'
SELECT format('CREATE ROLE flotilla LOGIN PASSWORD %L', :'pw') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flotilla')
\gexec
SELECT format('ALTER ROLE flotilla PASSWORD %L', :'pw')
\gexec
SELECT 'CREATE DATABASE flotilla OWNER flotilla' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'flotilla')
\gexec
SQL
        fi
        set_env "$env" QUARKUS_DATASOURCE_JDBC_URL "jdbc:postgresql://127.0.0.1:5432/flotilla"
        set_env "$env" QUARKUS_DATASOURCE_USERNAME flotilla
        set_env "$env" QUARKUS_DATASOURCE_PASSWORD "$password"
      fi ;;
    embedded)
      sed -i '/^QUARKUS_DATASOURCE_/d' "$env" ;;
    external)
      [[ "$jdbc_url" == jdbc:postgresql://* ]] || die "--database external needs --jdbc-url jdbc:postgresql://HOST:PORT/DB"
      set_env "$env" QUARKUS_DATASOURCE_JDBC_URL "$jdbc_url"
      set_env "$env" QUARKUS_DATASOURCE_USERNAME "${db_user:?--db-user is needed with --database external}"
      set_env "$env" QUARKUS_DATASOURCE_PASSWORD "${db_password:?--db-password is needed with --database external}" ;;
    *) die "--database must be local, embedded or external (got '$database')" ;;
  esac
  if $live && ! id flotilla >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/flotilla --shell /usr/sbin/nologin flotilla
  fi
  install_app control-plane
  install_unit flotilla-control-plane
  log "control plane installed: API on port 8480; the admin token is FLOTILLA_AUTH_ADMIN_TOKENS in /etc/flotilla/control-plane.env"
}

install_node_agent() {
  local env="$root/etc/flotilla/node-agent.env"
  [[ -n "$control_plane_url" ]] || die "node-agent needs --control-plane URL (e.g. http://cp.example:8480)"
  [[ -n "$join_token" ]] || die "node-agent needs --join-token TOKEN (FLOTILLA_AUTH_JOIN_TOKEN of the control plane)"
  if $live && [[ ! -c /dev/kvm ]]; then
    log "warning: this host has no /dev/kvm: the agent will report itself unable to run VMs"
  fi
  install_tuning
  install -d -m 755 "$root/etc/flotilla"
  [[ -f "$env" ]] || install -m 600 /dev/null "$env"
  # Keys as the Helm chart passes them (helm/flotilla/values.yaml nodeAgent.configKeys): keep the two aligned.
  has_env JAVA_OPTS "$env" || set_env "$env" JAVA_OPTS "-Xmx512m"
  set_env "$env" FLOTILLA_NODE_CONTROL_PLANE_URL "$control_plane_url"
  set_env "$env" FLOTILLA_NODE_CONTROL_PLANE_JOIN_TOKEN "$join_token"
  has_env FLOTILLA_NODE_NAME "$env" || set_env "$env" FLOTILLA_NODE_NAME "$(hostname -s)"
  set_env "$env" QUARKUS_HTTP_PORT 7070
  set_env "$env" FLOTILLA_NODE_STATE_DIR /var/lib/flotilla/node
  set_env "$env" FLOTILLA_NODE_NETWORK_ENABLED true
  set_env "$env" FLOTILLA_NODE_NETWORK_NAT true
  set_env "$env" FLOTILLA_NODE_CRI_ENABLED "$kubelet"
  set_env "$env" FLOTILLA_NODE_CRI_SOCKET /run/flotilla/cri.sock
  # Under a kubelet, pods take their network from the node's CNI configuration (/etc/cni/net.d).
  $kubelet && set_env "$env" FLOTILLA_NODE_CRI_POD_NETWORK cni
  set_env "$env" FLOTILLA_NODE_GUESTS_LINUX_KERNEL /var/lib/flotilla/guest/vmlinux
  set_env "$env" FLOTILLA_NODE_GUESTS_LINUX_INITRD /var/lib/flotilla/guest/initramfs.cpio.gz
  install -d -m 755 "$root/var/lib/flotilla/guest"
  install_app node-agent
  install_unit flotilla-node-agent
  if $kubelet; then
    install -D -m 644 "$DEPLOY/kubelet/10-flotilla-cri.conf" "$root/etc/systemd/system/kubelet.service.d/10-flotilla-cri.conf"
    $live && systemctl daemon-reload
    log "kubelet drop-in installed: restart the kubelet (systemctl restart kubelet) after draining this node"
  fi
  log "node agent installed: put the guest kernel and initramfs into /var/lib/flotilla/guest (./flotilla guest paths)"
}

case "$component" in
  control-plane) install_control_plane ;;
  node-agent) install_node_agent ;;
  tuning) install_tuning ;;
esac
