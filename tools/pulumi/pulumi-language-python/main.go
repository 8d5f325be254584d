// Command pulumi-language-python is the Python language host that the real-engine tests run
// under the Pulumi CLI built from this module.
//
// Pulumi's own host lives in the module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3,
// which the Go module proxy reachable here refuses at every version ("403 Forbidden: This module version
// is not available"). Its work is done by packages of the sdk/v3 module, which is served: the
// virtualenv and toolchain resolution (sdk/v3/python/toolchain), the executor script beside this
// binary (sdk/v3/python/cmd/pulumi-language-python-exec) and the policy-pack proxy (sdk/v3's
// PolicyProxy). This command wires those packages to the LanguageRuntime service in the order the
// upstream host does (sdk/python/cmd/pulumi-language-python/main.go, read at v3.259.0: parseOptions,
// GetRequiredPackages, Run, constructArguments, RunPlugin, Handshake), so that the engine starts and
// feeds it exactly as it would Pulumi's: program options from Pulumi.yaml's runtime, the
// virtualenv resolved against the project root, the program run by the executor in the venv.
// What it leaves out: code generation, packing, linking, debugging, typecheckers and prompts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/blang/semver"
	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The executor the upstream host runs the program with, installed next to this binary.
const executor = "pulumi-language-python-exec"

// Finds each installed distribution's pulumi-plugin.json (upstream reads the same file per package).
const pluginJSONScript = `
import importlib.metadata as m, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        files = m.distribution(name).files or []
    except m.PackageNotFoundError:
        continue
    for f in files:
        if f.name == "pulumi-plugin.json":
            found[name] = str(f.locate())
            break
print(json.dumps(found))
`

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	exec   string
	engine string
}

func main() {
	flag.String("tracing", "", "ignored: tracing endpoint")
	flag.Parse()
	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(err)
	}
	h := &host{exec: filepath.Join(filepath.Dir(self), executor)}
	if _, err := os.Stat(h.exec); err != nil {
		cmdutil.Exit(fmt.Errorf("missing executor %s: %w", h.exec, err))
	}
	if args := flag.Args(); len(args) > 0 {
		h.engine = args[0]
	}
	cancel := make(chan bool)
	if h.engine != "" {
		if err := rpcutil.Healthcheck(context.Background(), h.engine, 5*time.Minute, func() { close(cancel) }); err != nil {
			cmdutil.Exit(err)
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(err)
	}
}

// options reads Pulumi.yaml's runtime options as upstream's parseOptions does; plugins default
// to the virtualenv "venv".
func options(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	raw := info.GetOptions().AsMap()
	if v, ok := raw["virtualenv"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("virtualenv option must be a string")
		}
		opts.Virtualenv = s
	}
	if v, ok := raw["toolchain"]; ok {
		switch v {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "uv":
			opts.Toolchain = toolchain.Uv
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		default:
			return opts, fmt.Errorf("unsupported toolchain option: %v", v)
		}
	}
	if isPlugin && (opts.Toolchain == toolchain.Pip || opts.Toolchain == toolchain.Auto) && opts.Virtualenv == "" {
		opts.Virtualenv = "venv"
	}
	return opts, nil
}

// resolve is the toolchain of a program or plugin: its virtualenv resolved as upstream does.
func resolve(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.Toolchain, error) {
	opts, err := options(info, isPlugin)
	if err != nil {
		return nil, err
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (
	*pulumirpc.LanguageHandshakeResponse, error,
) {
	h.engine = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// GetRequiredPackages names the resource plugin of every installed package that ships a
// pulumi-plugin.json with `resource: true`, at the version it names.
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest) (
	*pulumirpc.GetRequiredPackagesResponse, error,
) {
	tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, true)
	if err != nil {
		return nil, err
	}
	args := []string{"-c", pluginJSONScript}
	for _, p := range pkgs {
		args = append(args, p.Name)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing pulumi-plugin.json files: %w", err)
	}
	paths := map[string]string{}
	if err := json.Unmarshal(out, &paths); err != nil {
		return nil, err
	}
	var deps []*pulumirpc.PackageDependency
	for _, p := range pkgs {
		path, ok := paths[p.Name]
		if !ok {
			continue
		}
		var meta struct {
			Resource bool   `json:"resource"`
			Name     string `json:"name"`
			Version  string `json:"version"`
			Server   string `json:"server"`
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !meta.Resource {
			continue
		}
		if meta.Name == "" {
			meta.Name = strings.TrimPrefix(p.Name, "pulumi-")
		}
		if meta.Version == "" {
			if _, err := semver.ParseTolerant(p.Version); err != nil {
				continue
			}
			meta.Version = p.Version
		}
		deps = append(deps, &pulumirpc.PackageDependency{
			Name: meta.Name, Version: "v" + strings.TrimPrefix(meta.Version, "v"), Kind: "resource", Server: meta.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

// Run starts the executor in the resolved virtualenv with the arguments and the PULUMI_CONFIG
// variables upstream's Run and constructArguments give it.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	args := []string{h.exec}
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine)
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("organization", req.GetOrganization())
	args = append(args, req.GetInfo().GetEntryPoint())
	args = append(args, req.GetArgs()...)
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, req.GetConfigSecretKeys()...))
	if err != nil {
		return nil, err
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			// 32: the program has already shown the user why it stopped (upstream's bail code).
			if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.ExitStatus() == 32 {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("problem executing program (could not run language executor): %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// InstallDependencies makes sure the virtualenv exists; with it present, installs nothing.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	tc, err := resolve(req.GetInfo(), req.GetIsPlugin())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := tc.EnsureVenv(server.Context(), req.GetInfo().GetProgramDirectory(), false, true, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest) (
	*pulumirpc.GetProgramDependenciesResponse, error,
) {
	tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, len(pkgs))
	for i, p := range pkgs {
		deps[i] = &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version}
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// RunPlugin runs a policy pack as `python -u -m pulumi.policy ARGS PACK_DIR` in the pack's
// directory, behind the SDK's policy proxy that hands it the stack's configuration (upstream:
// RunPlugin's analyzer branch). Other Python plugins are out of scope here.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	if req.GetKind() != string(apitype.AnalyzerPlugin) {
		return fmt.Errorf("this language host runs policy packs only, not %s plugins", req.GetKind())
	}
	ctx := server.Context()
	tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
	cmd, err := tc.Command(ctx, append(args, dir)...)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Dir = dir
	proxy, stdout, err := sdk.NewPolicyProxy(ctx, stdout)
	if err != nil {
		return err
	}
	config, err := proxy.AwaitConfiguration(ctx)
	if err != nil {
		return err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	if config != nil {
		setenv := func(k, v string) {
			if v != "" {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		setenv("PULUMI_ORGANIZATION", config.Organization)
		setenv("PULUMI_PROJECT", config.Project)
		setenv("PULUMI_STACK", config.Stack)
		setenv("PULUMI_DRY_RUN", strconv.FormatBool(config.DryRun))
		if config.Config != nil {
			raw, err := json.Marshal(config.Config)
			if err != nil {
				return err
			}
			setenv("PULUMI_CONFIG", string(raw))
		}
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := proxy.Attach(ctx, cmd); err != nil {
		return err
	}
	return closer.Close()
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	return &pulumirpc.AboutResponse{Executable: "python3"}, nil
}
