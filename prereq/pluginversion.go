package prereq

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// pluginInfoClient is the part of every Pulumi plugin's gRPC interface that reports its version.
type pluginInfoClient interface {
	GetPluginInfo(ctx context.Context, in *emptypb.Empty, opts ...grpc.CallOption) (*pulumirpc.PluginInfo, error)
}

func languageRuntime(c grpc.ClientConnInterface) pluginInfoClient {
	return pulumirpc.NewLanguageRuntimeClient(c)
}

func resourceProvider(c grpc.ClientConnInterface) pluginInfoClient {
	return pulumirpc.NewResourceProviderClient(c)
}

// pluginVersionTimeout bounds starting a plugin and asking it: the docker provider, a large
// binary, answers in about a second.
const pluginVersionTimeout = 30 * time.Second

// pluginVersion asks a Pulumi plugin for its version the way the engine does: start it with an
// engine address, read the port it prints, call GetPluginInfo. Plugins have no --version flag.
// The engine address is never dialled for this call.
func pluginVersion(ctx context.Context, path string, env []string, client func(grpc.ClientConnInterface) pluginInfoClient) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, pluginVersionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "127.0.0.1:1")
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s printed no port: %w", path, err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return "", fmt.Errorf("%s printed %q instead of its port", path, strings.TrimSpace(line))
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	info, err := client(conn).GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil {
		return "", fmt.Errorf("%s GetPluginInfo: %w", path, err)
	}
	return info.GetVersion(), nil
}
