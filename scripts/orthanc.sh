#!/usr/bin/env bash
# A throw-away PACS for the tests: Debian's `orthanc` with its `orthanc-dicomweb` plugin, on a private
# port, over a fresh storage folder and its own configuration (no system service, no DICOM port),
# with HTTP basic authentication (one user) so that the tests cover credentials.
#   source scripts/orthanc.sh && start_test_orthanc   # exports TEST_ORTHANC_URL, TEST_DICOMWEB_URL,
#                                                     # TEST_DICOMWEB_USER, TEST_DICOMWEB_PASSWORD
#   stop_test_orthanc                                 # stops it and deletes its folder
# shellcheck shell=bash

start_test_orthanc() {
  local plugin=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
  command -v Orthanc >/dev/null 2>&1 && [ -f "$plugin" ] \
    || { echo "Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb; scripts/install-tools.sh does it)" >&2; return 1; }
  TEST_ORTHANC_DIR=$(mktemp -d /tmp/brainscan-orthanc.XXXXXX)
  export TEST_DICOMWEB_USER=brainscan TEST_DICOMWEB_PASSWORD=orthanc-test-secret
  # Ports below Linux's ephemeral range (32768-60999); a port that is taken is skipped.
  local port base=${TEST_ORTHANC_PORT:-24342}
  for port in $(seq "$base" 2 $((base + 40))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    cat >"$TEST_ORTHANC_DIR/orthanc.json" <<EOF
{
  "Name": "BrainScanTestPACS",
  "StorageDirectory": "$TEST_ORTHANC_DIR/storage",
  "IndexDirectory": "$TEST_ORTHANC_DIR/storage",
  "HttpPort": $port,
  "HttpBindAddress": "127.0.0.1",
  "DicomServerEnabled": false,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true,
  "RegisteredUsers": { "$TEST_DICOMWEB_USER": "$TEST_DICOMWEB_PASSWORD" },
  "Plugins": ["$plugin"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": false },
  "StableAge": 1,
  "ConcurrentJobs": 1
}
EOF
    Orthanc "$TEST_ORTHANC_DIR/orthanc.json" >"$TEST_ORTHANC_DIR/server.log" 2>&1 &
    TEST_ORTHANC_PID=$!
    local tries=0
    until curl -fsS -o /dev/null -u "$TEST_DICOMWEB_USER:$TEST_DICOMWEB_PASSWORD" "http://127.0.0.1:$port/system" 2>/dev/null; do
      tries=$((tries + 1))
      if ! kill -0 "$TEST_ORTHANC_PID" 2>/dev/null; then break; fi
      if [ $tries -gt 150 ]; then
        cat "$TEST_ORTHANC_DIR/server.log" >&2
        return 1
      fi
      sleep 0.1
    done
    if kill -0 "$TEST_ORTHANC_PID" 2>/dev/null; then
      export TEST_ORTHANC_DIR TEST_ORTHANC_PID TEST_ORTHANC_URL="http://127.0.0.1:$port"
      export TEST_DICOMWEB_URL="$TEST_ORTHANC_URL/dicom-web"
      echo "Orthanc $(Orthanc --version 2>/dev/null | head -1 | awk '{print $NF}') on 127.0.0.1:$port ($TEST_ORTHANC_DIR)"
      return 0
    fi
    grep -qi "address already in use\|cannot bind\|port" "$TEST_ORTHANC_DIR/server.log" \
      || { cat "$TEST_ORTHANC_DIR/server.log" >&2; return 1; }
  done
  echo "Orthanc found no free port from $base" >&2
  return 1
}

stop_test_orthanc() {
  [ -n "${TEST_ORTHANC_PID:-}" ] || return 0
  kill "$TEST_ORTHANC_PID" 2>/dev/null || true
  wait "$TEST_ORTHANC_PID" 2>/dev/null || true
  rm -rf "$TEST_ORTHANC_DIR"
  unset TEST_ORTHANC_PID TEST_ORTHANC_DIR TEST_ORTHANC_URL TEST_DICOMWEB_URL
}
