// Package kubectlplugin is `kubectl cassandra-backup`: list, describe and watch backups,
// and start a restore, on the generated typed clients. The binary
// cmd/kubectl-cassandra_backup is a thin main around NewCommand.
package kubectlplugin

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

// Streams are the command's input and outputs. Out is a terminal when it is an *os.File
// on one: describe and watch then draw progress bars and redraw in place.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// options are what every subcommand shares: how to reach the cluster, the namespace,
// the output format, and the clock (tests fix it so ages are stable).
type options struct {
	streams   Streams
	config    clientcmd.ClientConfig
	output    string
	now       func() time.Time
	terminal  bool
	newClient func() (versioned.Interface, string, error)
}

// NewCommand returns the root command with every subcommand. now is the clock (nil
// means time.Now).
func NewCommand(streams Streams, now func() time.Time) *cobra.Command {
	if now == nil {
		now = time.Now
	}
	o := &options{streams: streams, now: now, terminal: isTerminal(streams.Out)}
	root := &cobra.Command{
		Use:           "kubectl-cassandra_backup",
		Short:         "Cassandra backups and restores of cassandra-backup-operator",
		Long:          "Lists, describes and watches CassandraBackups, and restores them into a new CassandraDataCenter.\nRun as a kubectl plugin: kubectl cassandra-backup <command>.",
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl cassandra-backup"},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	overrides := &clientcmd.ConfigOverrides{}
	flags := root.PersistentFlags()
	flags.StringVar(&rules.ExplicitPath, "kubeconfig", "", "path to the kubeconfig file")
	clientcmd.BindOverrideFlags(overrides, flags, clientcmd.RecommendedConfigOverrideFlags(""))
	o.config = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	o.newClient = o.client

	root.AddCommand(newList(o), newDescribe(o), newWatch(o), newRestore(o), newSchedules(o), newVerify(o))
	return root
}

// client builds the clientset and the namespace from the kubeconfig and flags.
func (o *options) client() (versioned.Interface, string, error) {
	cfg, err := o.config.ClientConfig()
	if err != nil {
		return nil, "", err
	}
	ns, _, err := o.config.Namespace()
	if err != nil {
		return nil, "", err
	}
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	return cs, ns, nil
}

// addOutput adds -o/--output (json, yaml, or the default table).
func (o *options) addOutput(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: json or yaml (default: a table)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

func (o *options) checkOutput() error {
	switch o.output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output %q: want json or yaml", o.output)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
