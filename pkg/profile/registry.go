package profile

import (
	"fmt"
	"sort"
)

// Registry is the profiles the operator knows and its default. The zero value knows the
// shipped profiles with Instaclustr's as the default.
type Registry struct {
	// Profiles are the known profiles; the shipped ones when empty.
	Profiles []Profile
	// Default names the profile used where nothing says otherwise; Instaclustr when empty.
	Default string
}

// Shipped returns the profiles this release ships.
func Shipped() []Profile { return []Profile{InstaclustrProfile, CassOperatorProfile} }

// NewRegistry returns a registry of the shipped profiles with def as the default; an
// unknown name is an error.
func NewRegistry(def string) (Registry, error) {
	r := Registry{Default: def}
	if _, ok := r.Get(r.defaultName()); !ok {
		return Registry{}, fmt.Errorf("profile %q: want one of %v", def, r.Names())
	}
	return r, nil
}

func (r Registry) all() []Profile {
	if len(r.Profiles) == 0 {
		return Shipped()
	}
	return r.Profiles
}

func (r Registry) defaultName() string {
	if r.Default == "" {
		return Instaclustr
	}
	return r.Default
}

// Names returns the known profiles' names, sorted.
func (r Registry) Names() []string {
	var out []string
	for _, p := range r.all() {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// All returns the known profiles, the default first.
func (r Registry) All() []Profile {
	def := r.DefaultProfile()
	out := []Profile{def}
	for _, p := range r.all() {
		if p.Name != def.Name {
			out = append(out, p)
		}
	}
	return out
}

// Get returns the profile named name.
func (r Registry) Get(name string) (Profile, bool) {
	for _, p := range r.all() {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// DefaultProfile returns the default profile (Instaclustr's when Default names none).
func (r Registry) DefaultProfile() Profile {
	if p, ok := r.Get(r.defaultName()); ok {
		return p
	}
	return InstaclustrProfile
}

// Override returns the profile the annotations name, if they name a known one. An
// annotation that names an unknown profile is reported as an error.
func (r Registry) Override(annotations map[string]string) (Profile, bool, error) {
	name, ok := annotations[Annotation]
	if !ok {
		return Profile{}, false, nil
	}
	p, known := r.Get(name)
	if !known {
		return Profile{}, false, fmt.Errorf("annotation %s=%q: want one of %v", Annotation, name, r.Names())
	}
	return p, true, nil
}

// ForObject returns the profile of a CassandraBackup or CassandraDataCenter: the one its
// annotations name, else the default.
func (r Registry) ForObject(annotations map[string]string) (Profile, error) {
	p, ok, err := r.Override(annotations)
	if err != nil || ok {
		return p, err
	}
	return r.DefaultProfile(), nil
}

// ForPod returns the profile of a pod: the one its annotations name, else the one whose
// datacenter label it carries (the default first, when it carries several). ok is false
// when the pod is no Cassandra pod of any profile.
func (r Registry) ForPod(podLabels, annotations map[string]string) (p Profile, ok bool, err error) {
	if p, ok, err := r.Override(annotations); err != nil || ok {
		return p, ok, err
	}
	for _, p := range r.All() {
		if v := podLabels[p.Labels.Datacenter]; v != "" {
			return p, true, nil
		}
	}
	return Profile{}, false, nil
}
