package kubectlplugin

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

func newList(o *options) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List backups with state, size, age and location",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			cs, ns, err := o.newClient()
			if err != nil {
				return err
			}
			if all {
				ns = metav1.NamespaceAll
			}
			list, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).List(cmd.Context(), metav1.ListOptions{})
			if err != nil {
				return err
			}
			slices.SortFunc(list.Items, func(a, b v1alpha1.CassandraBackup) int {
				return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
			})
			if o.output != "" {
				list.APIVersion, list.Kind = "v1", "List"
				for i := range list.Items {
					setKind(&list.Items[i], "CassandraBackup")
				}
				return o.print(list)
			}
			return o.listTable(o.streams.Out, list.Items, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list backups of every namespace")
	o.addOutput(cmd)
	return cmd
}

func (o *options) listTable(out io.Writer, items []v1alpha1.CassandraBackup, withNS bool) error {
	if len(items) == 0 {
		_, err := fmt.Fprintln(o.streams.Err, "No backups found.")
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	if withNS {
		fmt.Fprint(w, "NAMESPACE\t")
	}
	fmt.Fprintln(w, "NAME\tSTATE\tPROGRESS\tSIZE\tNODES\tCLUSTER/DC\tLOCATION\tAGE")
	for _, b := range items {
		if withNS {
			fmt.Fprintf(w, "%s\t", b.Namespace)
		}
		done, total := totals(&b)
		size := "-"
		if total > 0 {
			size = HumanBytes(total)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", b.Name, orDash(string(b.Status.State)), Percent(done, total),
			size, len(b.Status.Nodes), b.Spec.Cluster+"/"+b.Spec.Datacenter, orDash(location(&b)), Age(o.now(), b.CreationTimestamp.Time))
	}
	return w.Flush()
}

// totals sums the nodes' bytes.
func totals(b *v1alpha1.CassandraBackup) (done, total int64) {
	for _, n := range b.Status.Nodes {
		done += n.BytesUploaded
		total += n.BytesTotal
	}
	return done, total
}

// setKind fills the TypeMeta the typed client leaves empty, so printed objects apply.
func setKind(obj runtime.Object, kind string) {
	obj.GetObjectKind().SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind(kind))
}

// print writes obj as JSON or YAML.
func (o *options) print(obj any) error {
	var b []byte
	var err error
	if o.output == "json" {
		b, err = json.MarshalIndent(obj, "", "    ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(obj)
	}
	if err != nil {
		return err
	}
	_, err = o.streams.Out.Write(b)
	return err
}

// backupNames completes the names of the namespace's backups.
func (o *options) backupNames(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cs, ns, err := o.newClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	list, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).List(cmd.Context(), metav1.ListOptions{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []string
	for _, b := range list.Items {
		names = append(names, b.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// location is what the LOCATION column shows: the CassandraBackupLocation a backup
// references, or its own storage location.
func location(b *v1alpha1.CassandraBackup) string {
	if b.Spec.LocationRef != nil {
		return b.Spec.LocationRef.Name
	}
	return b.Spec.StorageLocation
}
