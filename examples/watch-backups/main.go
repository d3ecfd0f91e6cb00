// Command watch-backups shows how another controller uses the generated typed clients:
// it creates (or updates) a CassandraBackup with server-side apply, then watches
// CassandraBackups through a shared informer and prints every change read from the
// lister, until the backup reaches the state given by --until (or forever).
//
//	go run ./examples/watch-backups --kubeconfig ~/.kube/config --namespace default \
//	    --apply my-backup --until COMPLETED
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	applyv1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/generated/applyconfiguration/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/informers/externalversions"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "path to a kubeconfig")
	namespace := flag.String("namespace", "default", "namespace to watch and apply in")
	apply := flag.String("apply", "", "name of a CassandraBackup to create or update with server-side apply")
	until := flag.String("until", "", "exit once the applied backup reaches this state")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, *kubeconfig, *namespace, *apply, v1alpha1.BackupState(*until)); err != nil {
		fmt.Fprintln(os.Stderr, "watch-backups:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, namespace, apply string, until v1alpha1.BackupState) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := versioned.NewForConfig(config)
	if err != nil {
		return err
	}

	if apply != "" {
		// Server-side apply: only the fields set here are owned by this field manager.
		backup := applyv1alpha1.CassandraBackup(apply, namespace).
			WithLabels(map[string]string{"app": "cassandra"}).
			WithSpec(applyv1alpha1.CassandraBackupSpec().
				WithCDC("test-cluster-dc1-cassandra").
				WithCluster("test-cluster").
				WithDatacenter("dc1").
				WithStorageLocation("s3://cassandra-bucket").
				WithSnapshotTag(apply + "-" + time.Now().UTC().Format("20060102-150405")).
				WithSecret("cloud-backup-secrets"))
		applied, err := client.CassandraoperatorV1alpha1().CassandraBackups(namespace).Apply(ctx, backup,
			metav1.ApplyOptions{FieldManager: "watch-backups-example", Force: true})
		if err != nil {
			return fmt.Errorf("apply %s: %w", apply, err)
		}
		fmt.Printf("APPLIED %s/%s snapshotTag=%s\n", applied.Namespace, applied.Name, applied.Spec.SnapshotTag)
	}

	factory := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithNamespace(namespace))
	informer := factory.Cassandraoperator().V1alpha1().CassandraBackups()
	lister := informer.Lister()
	done := make(chan struct{})
	show := func(verb string, obj any) {
		key, err := cache.MetaNamespaceKeyFunc(obj)
		if err != nil {
			return
		}
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		b, err := lister.CassandraBackups(ns).Get(name)
		if err != nil {
			fmt.Printf("%s %s\n", verb, key)
			return
		}
		fmt.Printf("%s %s state=%s progress=%s\n", verb, key, b.Status.State, b.Status.Progress)
		if until != "" && name == apply && b.Status.State == until {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { show("ADDED", obj) },
		UpdateFunc: func(_, obj any) { show("MODIFIED", obj) },
		DeleteFunc: func(obj any) { fmt.Println("DELETED", keyOf(obj)) },
	}); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	factory.Start(ctx.Done())
	defer factory.Shutdown() // runs after stop: the informers end with ctx
	defer stop()
	if !cache.WaitForCacheSync(ctx.Done(), informer.Informer().HasSynced) {
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return nil
	}
}

func keyOf(obj any) string {
	key, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key
}
