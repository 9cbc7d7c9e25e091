// libcni-driver runs a CNI network configuration list through Debian's
// libcni (github.com/containernetworking/cni/libcni 1.1.2), the library
// container runtimes (containerd, CRI-O, podman) link, so test_libcni.py
// exercises configs/10-weft.conflist the way a runtime would: libcni parses
// the file, execs each plugin, parses and caches each result, and feeds the
// cached result to CHECK and DEL.
//
//	libcni-driver add|check|del CONFLIST PLUGIN_DIRS CACHE_DIR CONTAINER_ID NETNS IFNAME
//
// Prints the ADD result as JSON; on failure prints the error and exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) != 8 {
		fmt.Fprintln(os.Stderr, "usage: libcni-driver add|check|del CONFLIST PLUGIN_DIRS CACHE_DIR CONTAINER_ID NETNS IFNAME")
		os.Exit(2)
	}
	command, confPath, dirs, cacheDir := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	list, err := libcni.ConfListFromFile(confPath)
	if err != nil {
		fail(err)
	}
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(dirs, ":"), cacheDir, nil)
	rt := &libcni.RuntimeConf{ContainerID: os.Args[5], NetNS: os.Args[6], IfName: os.Args[7]}
	ctx := context.Background()
	switch command {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		out, err := json.Marshal(result)
		if err != nil {
			fail(err)
		}
		fmt.Println(string(out))
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	default:
		err = fmt.Errorf("unknown command %q", command)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
