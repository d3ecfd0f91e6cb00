package kubectlplugin

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

func newSchedules(o *options) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "schedules",
		Aliases: []string{"schedule", "cbks"},
		Short:   "List backup schedules with their last success, next run and what retention keeps",
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
			list, err := cs.CassandraoperatorV1alpha1().CassandraBackupSchedules(ns).List(cmd.Context(), metav1.ListOptions{})
			if err != nil {
				return err
			}
			slices.SortFunc(list.Items, func(a, b v1alpha1.CassandraBackupSchedule) int {
				return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
			})
			if o.output != "" {
				list.APIVersion, list.Kind = "v1", "List"
				for i := range list.Items {
					setKind(&list.Items[i], "CassandraBackupSchedule")
				}
				return o.print(list)
			}
			return o.schedulesTable(list.Items, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list schedules of every namespace")
	o.addOutput(cmd)
	return cmd
}

func (o *options) schedulesTable(items []v1alpha1.CassandraBackupSchedule, withNS bool) error {
	if len(items) == 0 {
		_, err := fmt.Fprintln(o.streams.Err, "No schedules found.")
		return err
	}
	now := o.now()
	w := tabwriter.NewWriter(o.streams.Out, 0, 4, 3, ' ', 0)
	if withNS {
		fmt.Fprint(w, "NAMESPACE\t")
	}
	fmt.Fprintln(w, "NAME\tSCHEDULE\tSUSPEND\tACTIVE\tLAST SUCCESS\tNEXT RUN\tCOMPLETED\tFAILED\tEXPIRED\tLOCATION")
	for _, s := range items {
		if withNS {
			fmt.Fprintf(w, "%s\t", s.Namespace)
		}
		sched := s.Spec.Schedule
		if s.Spec.TimeZone != "" {
			sched += " (" + s.Spec.TimeZone + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%t\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", s.Name, sched, s.Spec.Suspend, s.Status.ActiveCount,
			ago(now, s.Status.LastSuccessfulTime), in(now, s.Status.NextScheduleTime), s.Status.Completed, s.Status.Failed,
			s.Status.Expired, s.Spec.Template.StorageLocation)
	}
	return w.Flush()
}

// ago is "5m ago", or "never".
func ago(now time.Time, t *metav1.Time) string {
	if t == nil {
		return "never"
	}
	return Age(now, t.Time) + " ago"
}

// in is "in 5m" for a future time, "due" for a past one, "-" for none.
func in(now time.Time, t *metav1.Time) string {
	switch {
	case t == nil:
		return "-"
	case !t.After(now):
		return "due"
	}
	return "in " + Age(t.Time, now)
}
